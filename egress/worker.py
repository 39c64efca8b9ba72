"""Egress worker: takes signed messages from `outbound` and delivers them.

For each record: open the sealed content, skip recipients already delivered
(the delivered-set, so a replayed record never sends twice), hand the rest to
the delivery engine, then record what happened:

    delivered -> delivered-set + audit `delivered` (with the TLS outcome)
    deferred  -> back through a delay topic with the next attempt time
                 (audit `deferred`); past the tenant's max age: `expired` + DSN
    bounced   -> audit `bounced` + a DSN to the envelope sender (never for a DSN)

Records are worked on concurrently (a slow destination never blocks others)
and a partition's offset is committed only up to the last record whose every
outcome is recorded: nothing is acknowledged and then lost.

Reads: Message records from Kafka.  Holds secrets: the master key; clear
content while a delivery is in progress.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from postwarden import audit, delay, kafka, topics
from postwarden.blobs import DirectoryBlobStore
from postwarden.config.model import Config
from postwarden.crypto import Keyring
from postwarden.ids import new_message_id
from postwarden.message import Message
from postwarden.registry import Registry
from postwarden.verdicts import StageResult, Verdict, now_ms

log = logging.getLogger("postwarden.egress")
GROUP = "postwarden-egress"


class DeliveredSet:
    """Which (message, recipient) pairs were delivered: the compacted `delivered` topic.

    Read from the beginning at start-up, then followed for as long as the worker
    runs, so a record another egress worker delivered before a rebalance handed
    its partition here is not delivered again.
    """

    def __init__(self, settings, producer):
        self.settings = settings
        self.producer = producer
        self._seen: set[str] = set()
        self._reader = None
        self._task: asyncio.Task | None = None

    async def load(self) -> None:
        """Read what is there now; keep following the topic in the background."""
        self._reader = kafka.consumer(self.settings, group_id=None)
        await self._reader.start()
        partitions = await kafka.partitions_of(self._reader, topics.DELIVERED)
        self._reader.assign(partitions)
        await self._reader.seek_to_beginning(*partitions)
        end = await self._reader.end_offsets(partitions)
        while any([await self._reader.position(p) < end[p] for p in partitions]):
            self._absorb(await self._reader.getmany(timeout_ms=500))
        self._task = asyncio.create_task(self._follow(), name="delivered-set")

    async def _follow(self) -> None:
        while True:
            self._absorb(await self._reader.getmany(timeout_ms=1000))

    def _absorb(self, batch) -> None:
        for records in batch.values():
            for record in records:
                if record.key:
                    self._seen.add(record.key.decode())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        if self._reader:
            await self._reader.stop()

    async def seen(self, message_id: str, recipient: str) -> bool:
        return f"{message_id}/{recipient.lower()}" in self._seen

    async def record(self, message_id: str, recipient: str) -> None:
        """Called by the engine right after a recipient's 250; returns once Kafka has it."""
        key = f"{message_id}/{recipient.lower()}"
        self._seen.add(key)
        await (await self.producer.send(topics.DELIVERED, b"1", key=key.encode()))


class Egress:
    def __init__(self, local: Config, node_document: dict, keyring: Keyring, *, window: int = 200):
        self.local = local
        self.keyring = keyring
        self.registry = Registry(local.kafka, node_document, keyring)
        self.window = window
        self.blobs = DirectoryBlobStore(Path(local.state_dir) / "blobs")
        self.producer = None
        self.consumer = None
        self.engine = None
        self.delivered: DeliveredSet | None = None
        self.auditor: audit.Auditor | None = None

    @property
    def config(self) -> Config:
        return self.registry.config

    async def start(self) -> None:
        from egress.engine import DeliveryEngine

        settings = self.local.kafka
        await kafka.ensure_topics(settings)
        self.producer = kafka.producer(settings, linger_ms=5)
        await self.producer.start()
        self.auditor = audit.Auditor(self.producer, "egress")
        await self.registry.start()
        await self.registry.wait_ready()
        self.delivered = DeliveredSet(settings, self.producer)
        await self.delivered.load()
        self.engine = DeliveryEngine(lambda: self.registry.config, delivered_store=self.delivered)
        self.consumer = kafka.consumer(settings, topics.OUTBOUND, group_id=GROUP,
                                       max_poll_records=self.window,
                                       session_timeout_ms=int(settings.session_timeout * 1000),
                                       heartbeat_interval_ms=int(settings.heartbeat_interval * 1000),
                                       rebalance_timeout_ms=int(settings.rebalance_timeout * 1000),
                                       max_poll_interval_ms=600_000)
        await self.consumer.start()

    async def stop(self) -> None:
        if self.consumer:
            await self.consumer.stop()
        if self.engine:
            await self.engine.close()
        if self.delivered:
            await self.delivered.close()
        await self.registry.stop()
        if self.producer:
            await self.producer.stop()

    # -- the loop: a window of concurrent deliveries, contiguous commits ------------
    async def run(self) -> None:
        in_flight: dict[TopicPartition, dict[int, asyncio.Task]] = {}
        slots = asyncio.Semaphore(self.window)
        while True:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=self.window)
            for partition, records in batch.items():
                for record in records:
                    await slots.acquire()
                    task = asyncio.create_task(self.handle(record.value))
                    task.add_done_callback(lambda _t: slots.release())
                    in_flight.setdefault(partition, {})[record.offset] = task
            await self._commit_done(in_flight)

    async def _commit_done(self, in_flight) -> None:
        offsets = {}
        for partition, tasks in in_flight.items():
            done_upto = None
            for offset in sorted(tasks):
                if not tasks[offset].done():
                    break
                done_upto = offset
                del tasks[offset]
            if done_upto is not None:
                offsets[partition] = done_upto + 1
        if offsets:
            try:
                await self.consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as error:
                # a rebalance took the partition: its new owner redelivers what was not
                # committed, and the delivered-set keeps that from sending twice
                log.warning("offset commit skipped after a rebalance: %s", type(error).__name__)
                for partition in offsets:
                    in_flight.pop(partition, None)

    # -- one message ------------------------------------------------------------------
    async def handle(self, value: bytes) -> None:
        message = None
        try:
            message = Message.decode(value)
            await self.deliver(message)
        except Exception as error:  # never lose a record silently: dead letter + audit
            log.exception("egress could not handle message %s", message.id if message else "?")
            record = {"at": now_ms(), "stage": "egress", "source_topic": topics.OUTBOUND,
                      "partition": -1, "offset": -1, "message_id": message.id if message else None,
                      "tenant_id": message.tenant_id if message else None,
                      "error": f"{type(error).__name__}: {error}"[:2000], "record": value}
            from postwarden import codec
            await (await self.producer.send(topics.DEAD_LETTER,
                                            codec.encode("postwarden.DeadLetter", record)))
            if message is not None:
                await self.auditor.emit(message, "dead_lettered",
                                        details={"error": type(error).__name__})

    async def deliver(self, message: Message) -> None:
        pending = [r for r in message.recipients if not await self.delivered.seen(message.id, r)]
        if not pending:
            return
        content = message.open_content(self.keyring, self.blobs)
        outcomes = await self.engine.deliver(message, content, pending)
        sends, deferred, bounced = [], [], []
        for outcome in outcomes:
            if outcome.status == "delivered":
                if not outcome.duplicate:   # the engine has recorded it in the delivered-set
                    sends.append(await self._audit(message, "delivered", outcome))
            elif outcome.status == "deferred":
                deferred.append(outcome)
            else:
                bounced.append(outcome)
                sends.append(await self._audit(message, "bounced", outcome))
        if deferred:
            sends += await self._defer(message, deferred, bounced)
        if bounced:
            sends += await self._bounce(message, content, bounced, kind="failure")
        await asyncio.gather(*sends)

    async def _audit(self, message: Message, kind: str, outcome, **details):
        reply = {"code": outcome.code, "enhanced": outcome.enhanced or "",
                 "text": (outcome.text or "")[:500], "host": outcome.host or ""}
        facts = {k: v for k, v in outcome.to_record().items()
                 if k not in ("recipient", "status", "code", "enhanced", "text", "host") and v}
        facts["attempt"] = str(message.attempt + 1)
        return await self.auditor.emit_soon(message, kind, recipients=[outcome.recipient], reply=reply,
                                            tls=outcome.tls, results=[], details={**facts, **details})

    async def _defer(self, message: Message, deferred, bounced) -> list:
        from egress.outcome import expire
        from egress.retry import next_attempt

        tenant = self.config.tenant(message.tenant_id)
        due = next_attempt(message, tenant.delivery if tenant else None, self.config.delivery, now_ms())
        if due is None:
            expired = [expire(outcome) for outcome in deferred]
            bounced.extend(expired)
            return [await self._audit(message, "expired", outcome) for outcome in expired]
        retry = message.replace(recipients=tuple(o.recipient for o in deferred),
                                attempt=message.attempt + 1)
        sends = [await self._audit(message, "deferred", outcome, next_attempt_ms=str(due))
                 for outcome in deferred]
        sends.append(await delay.schedule(self.producer, retry, due, return_to="outbound"))
        return sends

    async def _bounce(self, message: Message, content: bytes, failed, kind: str) -> list:
        """A DSN to the envelope sender; it goes through signing like any other mail."""
        if message.is_dsn or not message.envelope_sender:
            return []
        from egress.dsn import build_dsn

        report = build_dsn(message, content, failed, self.config.ingress.hostname, kind=kind)
        dsn = Message.dsn_for(message, message.envelope_sender.rsplit("@", 1)[-1],
                              StageResult("egress", Verdict.PASS, "dsn.bounce",
                                          {"original": message.id}),
                              new_message_id(), now_ms())
        dsn = dsn.seal_content(self.keyring, report, self.blobs, self.config.inline_limit)
        return [await self.producer.send(topics.RELEASED, dsn.encode(), key=dsn.id.encode()),
                await self.auditor.emit_soon(message, "dsn_sent", results=[],
                                             recipients=[o.recipient for o in failed],
                                             details={"dsn_id": dsn.id})]


async def run(local: Config, node_document: dict, keyring: Keyring) -> None:
    egress = Egress(local, node_document, keyring)
    await egress.start()
    try:
        await egress.run()
    finally:
        await egress.stop()
