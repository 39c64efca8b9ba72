"""The quarantine: held messages an operator lists, inspects, releases or deletes.

Held messages live on the compacted quarantine topic, keyed by message id,
still sealed.  A release sends the message to the `released` topic, where the
agents sign it and pass it to delivery, then writes a tombstone; a delete
writes the tombstone and removes any blob.  Both are audited with the
operator's name.  `show` opens the message with the master key and prints its
header section and the reasons it is held, never the body.

Reads: Message records from Kafka; the master key for `show`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import getpass
import json
import sys
from pathlib import Path

from postwarden import audit, kafka, topics
from postwarden.blobs import DirectoryBlobStore
from postwarden.config.model import KafkaSettings
from postwarden.message import Message
from postwarden.verdicts import StageResult, Verdict


async def held(settings: KafkaSettings) -> dict[str, Message]:
    """Messages now in quarantine, by id (the latest record per key, tombstones removed)."""
    current: dict[str, Message | None] = {}
    for record in await kafka.read_all(settings, topics.QUARANTINE):
        key = record.key.decode() if record.key else None
        if key is None:
            continue
        current[key] = Message.decode(record.value) if record.value else None
    return {k: v for k, v in current.items() if v is not None}


def reasons(message: Message) -> list[StageResult]:
    return [r for r in message.results if r.verdict is not Verdict.PASS]


def summary(message: Message) -> dict:
    return {
        "id": message.id, "tenant": message.tenant_id, "app": message.app_id,
        "received_at": datetime.datetime.fromtimestamp(message.received_at / 1000,
                                                       datetime.timezone.utc).isoformat(),
        "envelope_sender": message.envelope_sender, "recipients": list(message.recipients),
        "reasons": [r.reason for r in reasons(message)],
    }


async def _finish(settings: KafkaSettings, message: Message, kind: str, operator: str,
                  release: bool) -> None:
    producer = kafka.producer(settings)
    await producer.start()
    try:
        sends = []
        if release:
            released = message.with_result(StageResult("quarantine", Verdict.PASS, "quarantine.released",
                                                       {"by": operator}))
            sends.append(await producer.send(topics.RELEASED, released.encode(), key=message.id.encode()))
        sends.append(await producer.send(topics.QUARANTINE, None, key=message.id.encode()))
        auditor = audit.Auditor(producer, f"operator:{operator}")
        sends.append(await auditor.emit_soon(message, kind, results=reasons(message),
                                             details={"by": operator}))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def release(settings: KafkaSettings, message_id: str, operator: str) -> Message:
    message = (await held(settings)).get(message_id)
    if message is None:
        raise LookupError(f"no message {message_id} in quarantine")
    await _finish(settings, message, "released", operator, release=True)
    return message


async def delete(settings: KafkaSettings, message_id: str, operator: str,
                 blobs: DirectoryBlobStore | None = None) -> Message:
    message = (await held(settings)).get(message_id)
    if message is None:
        raise LookupError(f"no message {message_id} in quarantine")
    await _finish(settings, message, "deleted", operator, release=False)
    if message.blob_ref and blobs is not None:
        blobs.delete(message.blob_ref)
    return message


def header_section(content: bytes) -> str:
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = content.find(separator)
        if index >= 0:
            content = content[:index]
            break
    return content.decode("utf-8", "replace")


# -- the CLI: postwarden quarantine list|show|release|delete -----------------------------
def main(argv: list[str], *, bootstrap: str | None = None, config_path: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postwarden quarantine")
    sub = parser.add_subparsers(dest="action", required=True)
    listing = sub.add_parser("list", help="held messages")
    listing.add_argument("--tenant")
    listing.add_argument("--json", action="store_true")
    for name in ("show", "release", "delete"):
        action = sub.add_parser(name)
        action.add_argument("message_id")
        if name != "show":
            action.add_argument("--by", default=getpass.getuser(),
                                help="operator name recorded in the audit event")
    args = parser.parse_args(argv)

    state_dir = ".postwarden"
    if config_path:
        from postwarden.config import read_yaml

        document = read_yaml(config_path)
        bootstrap = bootstrap or (document.get("kafka") or {}).get("bootstrap")
        state_dir = document.get("state_dir", state_dir)
    if not bootstrap:
        print("postwarden quarantine: give --config with kafka.bootstrap, or --bootstrap", file=sys.stderr)
        return 2
    settings = KafkaSettings(bootstrap=bootstrap)

    if args.action == "list":
        messages = asyncio.run(held(settings))
        rows = [summary(m) for m in messages.values() if not args.tenant or m.tenant_id == args.tenant]
        for row in rows:
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{row['id']}  {row['tenant']}/{row['app']}  {row['received_at']}  "
                      f"<{row['envelope_sender']}> -> {', '.join(row['recipients'])}  "
                      f"{' '.join(row['reasons'])}")
        if not args.json:
            print(f"{len(rows)} message(s) held")
        return 0

    try:
        if args.action == "show":
            from postwarden.crypto import Keyring, load_master_key

            message = asyncio.run(held(settings)).get(args.message_id)
            if message is None:
                raise LookupError(f"no message {args.message_id} in quarantine")
            content = message.open_content(Keyring(load_master_key()),
                                           DirectoryBlobStore(Path(state_dir) / "blobs"))
            print(json.dumps(summary(message), indent=2))
            for result in reasons(message):
                print(f"reason: {result.stage} {result.verdict.value} {result.reason} "
                      f"{json.dumps(dict(result.details))}")
            print("\n" + header_section(content))
        elif args.action == "release":
            asyncio.run(release(settings, args.message_id, args.by))
            print(f"released {args.message_id} (by {args.by})")
        else:
            asyncio.run(delete(settings, args.message_id, args.by,
                               DirectoryBlobStore(Path(state_dir) / "blobs")))
            print(f"deleted {args.message_id} (by {args.by})")
    except LookupError as error:
        print(f"postwarden quarantine: {error.args[0]}", file=sys.stderr)
        return 1
    return 0
