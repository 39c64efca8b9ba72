"""Delay topics: hold a message until a time without any worker sleeping on it.

`schedule(producer, message, due_ms, return_to)` sets `not_before` and sends
the message to the longest delay topic whose delay fits before `due_ms`
(shorter waits go to the shortest topic).  `DelayForwarder` consumes one delay
topic; since every record in it waits the same fixed delay, records become due
in order and the forwarder only sleeps until the head is due, then sends the
record on to `return_to` (or into a shorter delay topic if it is still early).

Reads: Message records (sealed; nothing is opened here).
"""

from __future__ import annotations

import asyncio
import logging
import time

from postwarden import kafka, topics
from postwarden.message import Message

log = logging.getLogger("postwarden.delay")


def delay_topic_for(wait_s: float) -> str:
    fitting = [d for d in topics.DELAYS if d <= wait_s]
    return topics.DELAYS[max(fitting)] if fitting else topics.DELAYS[min(topics.DELAYS)]


async def schedule(producer, message: Message, due_ms: int, return_to: str):
    """Queue `message` to come back to the `return_to` route at `due_ms`. Returns the send future."""
    if return_to not in topics.RETURN_TO:
        raise ValueError(f"unknown return route {return_to!r}")
    message = message.replace(not_before=due_ms).with_flag("return_to", return_to)
    wait_s = max(0.0, due_ms / 1000 - time.time())
    return await producer.send(delay_topic_for(wait_s), message.encode(), key=message.id.encode())


class DelayForwarder:
    """Forwards due records from one delay topic; one instance per topic per process group."""

    def __init__(self, settings, topic: str, producer, group_id: str):
        self.settings = settings
        self.topic = topic
        self.producer = producer
        self.group_id = group_id
        self._consumer = None

    async def run(self) -> None:
        """Forward due records for as long as the process runs; a Kafka error restarts the loop."""
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # uncommitted records are read again: nothing held is dropped
                log.exception("delay forwarder for %s failed; restarting in 5 s", self.topic)
                await asyncio.sleep(5)

    async def _run_once(self) -> None:
        self._consumer = kafka.consumer(self.settings, self.topic, group_id=self.group_id,
                                        max_poll_interval_ms=3_700_000)
        await self._consumer.start()
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=1000, max_records=200)
                for partition, records in batch.items():
                    for record in records:
                        await self._forward(record)
                    await self._consumer.commit({partition: records[-1].offset + 1})
        finally:
            await self._consumer.stop()

    async def _forward(self, record) -> None:
        try:
            message = Message.decode(record.value)
        except Exception as error:
            log.error("dropping unreadable record from %s at offset %d: %s", self.topic,
                      record.offset, error)
            return
        wait = message.not_before / 1000 - time.time()
        # records are FIFO with one fixed delay: sleeping on the head never delays a later one
        if wait > 0 and wait <= max(topics.DELAYS) + 60:
            await asyncio.sleep(min(wait, self._own_delay()))
            wait = message.not_before / 1000 - time.time()
        route = message.flags.get("return_to", "outbound")
        if wait > 1:
            await (await schedule(self.producer, message, message.not_before, route))
            return
        target = topics.RETURN_TO.get(route, topics.OUTBOUND)
        await (await self.producer.send(target, message.encode(), key=message.id.encode()))

    def _own_delay(self) -> float:
        for seconds, name in topics.DELAYS.items():
            if name == self.topic:
                return float(seconds)
        return 60.0
