"""What the DLP stage found: counts by detector and location, never the values.

A `Finding` is one detector (or signal such as `archive_limit`) in one
location (headers, body, attachments) with the number of distinct values
found there and at most three masked samples (`**** **** **** 4242`).
`Findings.to_records()` is what goes on the message and into the audit event:
type, count and location only.

Holds no message content: masked samples are the most a finding keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

MAX_SAMPLES = 3


@dataclass(frozen=True)
class Finding:
    type: str
    location: str
    count: int
    samples: tuple[str, ...] = ()      # masked forms, at most MAX_SAMPLES

    def to_record(self) -> dict:
        return {"type": self.type, "count": self.count, "location": self.location}


@dataclass(frozen=True)
class Findings:
    items: tuple[Finding, ...] = ()
    text_bytes: int = 0                 # decoded text scanned, UTF-8 bytes
    parts: int = 0                      # MIME leaf parts seen

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def count(self, types: Iterable[str], locations: Iterable[str]) -> int:
        """Distinct hits of any of `types` in any of `locations`."""
        types, locations = set(types), set(locations)
        return sum(f.count for f in self.items if f.type in types and f.location in locations)

    def to_records(self) -> list[dict]:
        return [f.to_record() for f in self.items]

    def summary(self, items: Iterable[Finding] | None = None) -> str:
        """`credit_card:body:2,iban:attachments:1`: short enough for a details value."""
        return ",".join(f"{f.type}:{f.location}:{f.count}"
                        for f in (self.items if items is None else items))
