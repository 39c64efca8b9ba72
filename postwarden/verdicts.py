"""The closed verdict vocabulary every stage speaks, and the result it records.

A stage never raises for an expected outcome: it returns a `StageResult` with
one `Verdict` and a dotted reason code (``scan.virus``, ``dlp.credit_card``,
``sign.ok``).  Results are appended to the message and the audit event is
built from them.  `details` holds facts (scores, counts, masked values),
never message content.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Mapping


class Verdict(str, Enum):
    PASS = "pass"              # continue to the next stage
    TAG = "tag"                # continue, with a header added
    QUARANTINE = "quarantine"  # hold for an operator
    REJECT = "reject"          # stop; DSN to the envelope sender
    TEMPFAIL = "tempfail"      # could not decide now; hold and retry

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Verdict.PASS: 0, Verdict.TAG: 1, Verdict.TEMPFAIL: 2, Verdict.QUARANTINE: 3,
             Verdict.REJECT: 4}


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class StageResult:
    stage: str
    verdict: Verdict
    reason: str = ""
    details: Mapping[str, str] = field(default_factory=dict)
    at: int = field(default_factory=now_ms)

    def to_record(self) -> dict:
        return {"stage": self.stage, "verdict": self.verdict.value, "reason": self.reason,
                "details": {str(k): str(v) for k, v in self.details.items()}, "at": self.at}

    @classmethod
    def from_record(cls, record: Mapping) -> "StageResult":
        return cls(record["stage"], Verdict(record["verdict"]), record.get("reason", ""),
                   dict(record.get("details", {})), record.get("at", 0))


def strongest(results: Iterable[StageResult]) -> Verdict:
    """The most severe verdict among results (PASS when there are none)."""
    verdict = Verdict.PASS
    for result in results:
        if result.verdict.severity > verdict.severity:
            verdict = result.verdict
    return verdict
