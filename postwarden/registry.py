"""The materialised config: every component's view of the compacted config topic.

`Registry` reads the config topic from the beginning, keeps the newest valid
`ConfigRecord`, combines it with this node's own settings and exposes the
resulting `Config` as `registry.config`.  A record that fails validation is
logged and ignored: the previous config stays in force, so a bad apply can
never take a running relay down.  `publish` is the writing side used by
`postwarden apply` and `postwarden up`.

Reads: ConfigRecord values from the topic (sealed secrets are opened with the
master key).  Holds secrets: the opened document (DKIM keys) and data keys.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
from typing import Any, Callable, Mapping

from aiokafka import TopicPartition

from postwarden import codec, kafka, topics
from postwarden.config import ConfigError, combine, open_secrets, seal_secrets
from postwarden.config.model import Config, KafkaSettings
from postwarden.crypto import DataKey, Keyring
from postwarden.verdicts import now_ms

log = logging.getLogger("postwarden.registry")
SCHEMA = "postwarden.ConfigRecord"


async def read_latest(settings: KafkaSettings, timeout: float = 10.0) -> dict | None:
    """The newest ConfigRecord on the topic, or None when nothing was applied yet."""
    latest = None
    for record in await kafka.read_all(settings, topics.CONFIG, timeout):
        if record.key == topics.CONFIG_KEY and record.value:
            try:
                latest = codec.decode(record.value, expect=SCHEMA)
            except codec.CodecError as error:
                log.warning("skipping unreadable config record at offset %d: %s", record.offset, error)
    return latest


async def publish(settings: KafkaSettings, shared: Mapping[str, Any], keyring: Keyring,
                  node: Mapping[str, Any] | None = None, applied_by: str | None = None) -> dict:
    """Validate `shared` as a whole, then publish it as the new config. Returns the record."""
    combine(node or {"kafka": {"bootstrap": settings.bootstrap}}, shared, "config")  # raises ConfigError
    current = await read_latest(settings)
    data_keys: dict[str, bytes] = dict(current["data_keys"]) if current else {}
    tenant_ids = [t.get("id") for t in shared.get("tenants") or [] if isinstance(t, dict)]
    for tenant_id in tenant_ids:
        if not any(key_id.split("/")[0] == tenant_id for key_id in data_keys):
            key = keyring.new_data_key(f"{tenant_id}/1")
            data_keys[key.key_id] = key.wrapped
    record = {
        "version": (current["version"] + 1) if current else 1,
        "applied_at": now_ms(),
        "applied_by": applied_by or getpass.getuser(),
        "document": json.dumps(seal_secrets(dict(shared), keyring), sort_keys=True),
        "data_keys": data_keys,
    }
    producer = kafka.producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(topics.CONFIG, codec.encode(SCHEMA, record), key=topics.CONFIG_KEY)
    finally:
        await producer.stop()
    return record


class Registry:
    """Keeps `config` current with the config topic; calls listeners on change."""

    def __init__(self, settings: KafkaSettings, node: Mapping[str, Any], keyring: Keyring,
                 source: str = "config topic"):
        self.settings = settings
        self.node = dict(node)
        self.keyring = keyring
        self.source = source
        self.config: Config | None = None
        self.version = 0
        self.data_keys: dict[str, DataKey] = {}
        self._listeners: list[Callable[[Config], None]] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._consumer = None

    def on_change(self, listener: Callable[[Config], None]) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        self._consumer = kafka.consumer(self.settings, group_id=None)
        await self._consumer.start()
        partition = TopicPartition(topics.CONFIG, 0)
        self._consumer.assign([partition])
        await self._consumer.seek_to_beginning(partition)
        self._task = asyncio.create_task(self._run(partition), name="config-registry")

    async def wait_ready(self, timeout: float | None = None) -> Config:
        await asyncio.wait_for(self._ready.wait(), timeout)
        assert self.config is not None
        return self.config

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._consumer:
            await self._consumer.stop()

    async def _run(self, partition: TopicPartition) -> None:
        while True:
            batch = await self._consumer.getmany(partition, timeout_ms=1000)
            for record in batch.get(partition, []):
                if record.key == topics.CONFIG_KEY and record.value:
                    self.apply_record(record.value)

    def apply_record(self, value: bytes) -> bool:
        try:
            record = codec.decode(value, expect=SCHEMA)
            shared = open_secrets(json.loads(record["document"]), self.keyring)
            config = combine(self.node, shared, f"{self.source} v{record['version']}")
            data_keys = {}
            for key_id, wrapped in record["data_keys"].items():
                data_keys[key_id] = DataKey(key_id, wrapped,
                                            self.keyring.unwrap(wrapped, key_id.encode()))
        except ConfigError as error:
            log.error("ignoring config version that failed validation; keeping the current one:\n%s",
                      error)
            return False
        except Exception as error:  # a corrupt or foreign record must not stop the component
            log.error("ignoring unreadable config record: %s: %s", type(error).__name__, error)
            return False
        self.config, self.version, self.data_keys = config, record["version"], data_keys
        log.info("config version %d in force (%d tenants)", record["version"], len(config.tenants))
        self._ready.set()
        for listener in self._listeners:
            listener(config)
        return True

    def data_key(self, tenant_id: str) -> DataKey | None:
        """The newest data key of a tenant."""
        best = None
        for key_id, key in self.data_keys.items():
            owner, _, version = key_id.partition("/")
            if owner == tenant_id and (best is None or int(version) > int(best.key_id.split("/")[1])):
                best = key
        return best
