"""The stage chain: where a submitted message is decided about, in order.

    scan  (viruses, spam, impersonation)   -> agents.scan
    dlp   (personal and health data)       -> agents.dlp
    sign  (DKIM with the From domain key)  -> agents.sign

`run(message, content, tenant, stages)` is pure of Kafka: it calls each stage,
appends its `StageResult`s to the message, stops at the first verdict that
ends the chain (reject, quarantine, tempfail) and returns an `Outcome` naming
where the message goes next.  The Faust agent in agents/worker.py is the only
place that knows topics.

The stages run in one process, one after another, rather than one topic hop
each: a hop costs every message ~0.4 ms of a core and buys nothing here, since
scanners scale on their own and every stage is stateless per message.  A
released message (from quarantine) re-enters after the scan and DLP stages.

Reads: clear message content (opened by the caller).  Never logs it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence

from postwarden.config.model import Config, Tenant
from postwarden.message import Message
from postwarden.verdicts import StageResult, Verdict

# what happens next, by the strongest verdict of the chain
ROUTE_OUTBOUND = "outbound"
ROUTE_QUARANTINE = "quarantine"
ROUTE_REJECT = "reject"
ROUTE_HOLD = "hold"

_ROUTE_FOR = {Verdict.REJECT: ROUTE_REJECT, Verdict.QUARANTINE: ROUTE_QUARANTINE,
              Verdict.TEMPFAIL: ROUTE_HOLD}


@dataclass
class StageOutput:
    results: list[StageResult]
    content: bytes | None = None                 # changed content (signed, tagged), if any
    headers_to_add: list[tuple[str, str]] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    route: str
    message: Message
    content: bytes
    results: list[StageResult]                   # this run's results (for the audit events)

    @property
    def final(self) -> StageResult | None:
        """The result that decided the route (the first with the strongest verdict)."""
        decisive = [r for r in self.results if _ROUTE_FOR.get(r.verdict) == self.route]
        return decisive[0] if decisive else (self.results[-1] if self.results else None)


Stage = Callable[[Message, bytes, Tenant, Config], Awaitable[StageOutput]]


def add_headers(content: bytes, headers: Sequence[tuple[str, str]]) -> bytes:
    """Prepend header fields (tags) to a message, keeping its line-ending style."""
    if not headers:
        return content
    newline = b"\r\n" if b"\r\n" in content[:4096] or not content else b"\n"
    lines = b"".join(f"{name}: {value}".encode("utf-8", "replace") + newline
                     for name, value in headers)
    return lines + content


async def run(message: Message, content: bytes, tenant: Tenant, config: Config,
              stages: Sequence[tuple[str, Stage]]) -> Outcome:
    results: list[StageResult] = []
    for name, stage in stages:
        output = await stage(message, content, tenant, config)
        results.extend(output.results)
        for result in output.results:
            message = message.with_result(result)
        for flag, value in output.flags.items():
            message = message.with_flag(flag, value)
        if output.content is not None:
            content = output.content
        content = add_headers(content, output.headers_to_add)
        verdict = max((r.verdict for r in output.results), key=lambda v: v.severity,
                      default=Verdict.PASS)
        if verdict in _ROUTE_FOR:
            return Outcome(_ROUTE_FOR[verdict], message, content, results)
    return Outcome(ROUTE_OUTBOUND, message, content, results)


# -- the stages, as adapters over each stage's pure core ----------------------
async def sign_stage(message: Message, content: bytes, tenant: Tenant, config: Config) -> StageOutput:
    from agents.sign.stage import sign_submission

    # the From the receivers will see, read from the content itself, decides the key
    signed, result = sign_submission(content, tenant)
    return StageOutput([result], content=signed)


async def dlp_stage(message: Message, content: bytes, tenant: Tenant, config: Config) -> StageOutput:
    import agents.dlp as dlp

    policy = tenant.dlp
    if not getattr(policy, "rules", ()):
        return StageOutput([])
    # CPU-bound (and time-bounded by the policy's limits): keep the event loop free meanwhile
    findings = await asyncio.to_thread(dlp.inspect, content, policy)
    results = dlp.decide(findings, policy)
    flags = {}
    for result in results:   # delivery enforces it (egress.smime: S/MIME, or verified TLS)
        if "require_encryption" in result.details:
            flags["encrypt"] = result.details["require_encryption"]
    return StageOutput(list(results), flags=flags)


def scan_stage_factory(clients: Any) -> Stage:
    async def scan_stage(message: Message, content: bytes, tenant: Tenant, config: Config) -> StageOutput:
        from agents.scan import scan_message

        outcome = await scan_message(content, message, tenant, config.scanners, clients)
        return StageOutput(list(outcome.results), headers_to_add=list(outcome.headers_to_add))
    return scan_stage


def default_stages(scan_clients: Any | None, *, released: bool = False) -> list[tuple[str, Stage]]:
    stages: list[tuple[str, Stage]] = []
    if not released:
        if scan_clients is not None:
            stages.append(("scan", scan_stage_factory(scan_clients)))
        stages.append(("dlp", dlp_stage))
    stages.append(("sign", sign_stage))
    return stages
