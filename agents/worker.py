"""The Faust app: agents that move messages from `submitted` to `outbound`.

The only module that knows which topics the agents read and write:

    submitted  --pipeline agent-->  outbound | quarantine | delay (hold) | DSN + audit
    released   --release agent-->   outbound (after signing)

Every outcome becomes data: an audit event per step, a DSN for a rejected
message, and a dead-letter record (with an audit event) for a record that
breaks a stage.  No exception leaves an agent: Faust would ack the event anyway
and the message would be lost without trace.

Reads: Message records (sealed) and the config topic.  Holds secrets: the
master key and, briefly, clear content while the stages run.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from pathlib import Path

import faust

from agents import pipeline
from agents.bounce import rejection_dsn
from postwarden import audit, codec, delay, kafka, topics
from postwarden.blobs import DirectoryBlobStore
from postwarden.config.model import Config
from postwarden.crypto import Keyring
from postwarden.message import Message
from postwarden.registry import Registry
from postwarden.verdicts import Verdict, now_ms

log = logging.getLogger("postwarden.agents")

HOLD_RETRY_S = 60          # a held message (tempfail) is tried again after this long
GROUP = "postwarden-agents"


class Agents:
    """Everything the agents share: registry, keyring, producer, scanner clients."""

    def __init__(self, local: Config, node_document: dict, keyring: Keyring):
        self.local = local
        self.keyring = keyring
        self.registry = Registry(local.kafka, node_document, keyring)
        self.producer = None
        self.auditor: audit.Auditor | None = None
        self.blobs = DirectoryBlobStore(Path(local.state_dir) / "blobs")
        self.scan_clients = None

    async def start(self) -> None:
        await kafka.ensure_topics(self.local.kafka)
        self.producer = kafka.producer(self.local.kafka, linger_ms=5)
        await self.producer.start()
        self.auditor = audit.Auditor(self.producer, "agents")
        await self.registry.start()
        config = await self.registry.wait_ready()
        self.scan_clients = make_scan_clients(config)
        self._scanners = config.scanners
        self.registry.on_change(self._config_changed)

    def _config_changed(self, config: Config) -> None:
        """New scanner addresses take effect with the config that names them."""
        if config.scanners == self._scanners:
            return
        old, self.scan_clients = self.scan_clients, make_scan_clients(config)
        self._scanners = config.scanners
        if old is not None:
            asyncio.get_running_loop().create_task(old.close())

    @property
    def config(self) -> Config:
        return self.registry.config

    # -- one record -----------------------------------------------------------
    async def handle(self, value: bytes, source: str, *, released: bool = False) -> None:
        message = None
        try:
            message = Message.decode(value)
            await self._process(message, released=released)
        except Exception as error:  # the worker keeps going; the record goes to the dead letters
            await self.dead_letter(value, source, message, error)

    async def _process(self, message: Message, *, released: bool) -> None:
        tenant = self.config.tenant(message.tenant_id)
        if tenant is None:
            raise LookupError(f"tenant {message.tenant_id!r} is not configured")
        content = message.open_content(self.keyring, self.blobs)
        stages = pipeline.default_stages(self.scan_clients, released=released)
        outcome = await pipeline.run(message, content, tenant, self.config, stages)
        sends = await self._route(outcome)
        sends += [await self.auditor.emit_soon(outcome.message, kind, results=outcome.results,
                                               details=details)
                  for kind, details in audit_kinds(outcome)]
        await asyncio.gather(*sends)

    async def _route(self, outcome: pipeline.Outcome) -> list:
        """Send the message where its outcome says; returns the pending sends to wait for."""
        message = outcome.message
        if outcome.route in (pipeline.ROUTE_OUTBOUND, pipeline.ROUTE_QUARANTINE):
            topic = topics.OUTBOUND if outcome.route == pipeline.ROUTE_OUTBOUND else topics.QUARANTINE
            message = message.seal_content(self.keyring, outcome.content, self.blobs,
                                           self.config.inline_limit)
            return [await self.producer.send(topic, message.encode(), key=message.id.encode())]
        if outcome.route == pipeline.ROUTE_HOLD:
            return [await delay.schedule(self.producer, message, now_ms() + HOLD_RETRY_S * 1000,
                                         return_to="submitted")]
        # reject: the sender hears why through a DSN (never for a DSN or a null sender)
        if message.is_dsn or not message.envelope_sender:
            return []
        dsn = rejection_dsn(message, outcome.content, outcome.final, self.config, self.keyring,
                            self.blobs)
        if dsn is None:
            return []
        return [await self.producer.send(topics.RELEASED, dsn.encode(), key=dsn.id.encode()),
                await self.auditor.emit_soon(message, "dsn_sent", details={"dsn_id": dsn.id})]

    async def dead_letter(self, value: bytes, source: str, message: Message | None,
                          error: Exception) -> None:
        log.error("dead-lettering a record from %s (message %s): %s: %s", source,
                  message.id if message else "?", type(error).__name__, error)
        record = {"at": now_ms(), "stage": "agents", "source_topic": source, "partition": -1,
                  "offset": -1, "message_id": message.id if message else None,
                  "tenant_id": message.tenant_id if message else None,
                  "error": "".join(traceback.format_exception_only(type(error), error)).strip()[:2000],
                  "record": value}
        try:
            await (await self.producer.send(topics.DEAD_LETTER, codec.encode("postwarden.DeadLetter", record)))
            if message is not None:
                await self.auditor.emit(message, "dead_lettered",
                                        details={"error": type(error).__name__})
        except Exception:
            log.exception("could not write the dead letter")


def audit_kinds(outcome: pipeline.Outcome) -> list[tuple[str, dict]]:
    """The audit events one pipeline run produces, from its results."""
    kinds: list[tuple[str, dict]] = []
    stages = {r.stage for r in outcome.results}
    if "scan" in stages:
        kinds.append(("scanned", {}))
    if any(r.verdict is Verdict.TAG for r in outcome.results):
        kinds.append(("tagged", {}))
    if any(r.stage == "dlp" and r.reason != "dlp.pass" for r in outcome.results):
        kinds.append(("dlp_matched", {}))
    final = outcome.final
    reason = {"reason": final.reason} if final else {}
    if outcome.route == pipeline.ROUTE_OUTBOUND:
        kinds.append(("signed", {}))
    elif outcome.route == pipeline.ROUTE_QUARANTINE:
        kinds.append(("quarantined", reason))
    elif outcome.route == pipeline.ROUTE_HOLD:
        kinds.append(("deferred", {**reason, "retry_in_s": str(HOLD_RETRY_S)}))
    else:
        kinds.append(("rejected", reason))
    return kinds


def make_scan_clients(config: Config):
    """Scanner clients when any scanner is configured, else None (no scan stage)."""
    if not (config.scanners.clamd or config.scanners.rspamd):
        return None
    from agents.scan import make_clients

    return make_clients(config.scanners)


# -- the Faust app ---------------------------------------------------------------
def build_app(local: Config, node_document: dict, keyring: Keyring, *,
              concurrency: int = 32) -> faust.App:
    settings = local.kafka
    app = faust.App(
        GROUP,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        producer_acks=-1,
        broker_rebalance_timeout=settings.rebalance_timeout,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        datadir=str(Path(local.state_dir) / "faust"),
    )
    shared = Agents(local, node_document, keyring)
    app.postwarden = shared  # type: ignore[attr-defined]
    submitted = app.topic(topics.SUBMITTED, key_type=bytes, value_type=bytes)
    released = app.topic(topics.RELEASED, key_type=bytes, value_type=bytes)
    started = asyncio.Event()

    @app.task
    async def start_shared() -> None:
        await shared.start()
        forwarders = [delay.DelayForwarder(settings, name, shared.producer, f"{GROUP}-delay")
                      for name in topics.DELAYS.values()]
        started.set()
        await asyncio.gather(*(f.run() for f in forwarders))

    @app.agent(submitted, concurrency=concurrency)
    async def process(stream):
        await started.wait()
        async for value in stream:
            await shared.handle(value, topics.SUBMITTED)

    @app.agent(released, concurrency=4)
    async def release(stream):
        await started.wait()
        async for value in stream:
            await shared.handle(value, topics.RELEASED, released=True)

    return app


def run(local: Config, node_document: dict, keyring: Keyring, *, loglevel: str = "info") -> None:
    app = build_app(local, node_document, keyring)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
