"""The DLP stage's core: raw message bytes and a tenant policy in, findings out.

`inspect(content, policy)` extracts the text of every part (`extract.py`),
normalises it (`text.normalize`), runs one pass of every detector the policy's
rules name over each location (`engine.Scanner`), and counts distinct values
per detector and location.  Bulk email addresses count only from the policy's
`bulk_email_threshold` distinct addresses up.  `find_matches` gives the
validated values of one text for benchmarks and tests; nothing else may keep
them.

Reads: untrusted message bytes.  Never raises: a failure of the stage's own
code becomes an `unreadable_attachment` finding in the body.
"""

from __future__ import annotations

import functools
import logging
import threading

from postwarden.config.dlp import DETECTORS, LOCATIONS, DlpPolicy

from agents.dlp.detectors import TABLE
from agents.dlp.engine import Match, Scanner
from agents.dlp.extract import extract
from agents.dlp.findings import MAX_SAMPLES, Finding, Findings
from agents.dlp.text import normalize

log = logging.getLogger(__name__)


def scanner_for(detectors: frozenset[str]) -> Scanner:
    """A compiled scanner per detector set and thread (tenants share them)."""
    return _scanner(detectors, threading.get_ident())


@functools.lru_cache(maxsize=128)
def _scanner(detectors: frozenset[str], thread: int) -> Scanner:
    return Scanner(detectors)


def find_matches(text: str, detectors=DETECTORS) -> list[Match]:
    """Validated matches in one text (values included: for tests and benchmarks only)."""
    return scanner_for(frozenset(detectors)).scan(normalize(text).encode("utf-8", "replace"))


def inspect(content: bytes, policy: DlpPolicy) -> Findings:
    """Findings by detector and location for one raw RFC 5322 message."""
    try:
        return _inspect(content, policy)
    except Exception:
        log.exception("dlp inspection failed; recording the message as unreadable")
        return Findings(items=(Finding("unreadable_attachment", "body", 1),))


def _inspect(content: bytes, policy: DlpPolicy) -> Findings:
    wanted = policy.detectors
    if not wanted:
        return Findings()
    extracted = extract(content, policy.limits)
    scanner = scanner_for(frozenset(wanted & set(DETECTORS)))
    items: list[Finding] = []
    text_bytes = 0
    for location in LOCATIONS:
        data = normalize(extracted.text(location)).encode("utf-8", "replace")
        text_bytes += len(data)
        values: dict[str, dict[str, None]] = {}
        for match in scanner.scan(data):
            values.setdefault(match.type, {})[match.value] = None
        for name in DETECTORS:
            distinct = list(values.get(name, ()))
            if not distinct:
                continue
            if name == "email_address_bulk" and len(distinct) < policy.bulk_email_threshold:
                continue
            mask = TABLE[name].mask
            items.append(Finding(name, location, len(distinct),
                                 tuple(mask(v) for v in distinct[:MAX_SAMPLES])))
    for signal, count in sorted(extracted.signals.items()):
        if count:
            items.append(Finding(signal, "attachments", count))
    return Findings(tuple(items), text_bytes, extracted.parts)
