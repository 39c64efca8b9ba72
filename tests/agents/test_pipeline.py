"""The stage chain without a broker: order, stopping verdicts, tags, released messages."""

import pytest

from agents import pipeline
from postwarden.crypto import Sealed
from postwarden.message import Message
from postwarden.verdicts import StageResult, Verdict


def message() -> Message:
    return Message(id="M1", tenant_id="acme", app_id="billing", received_at=0, client_address="127.0.0.1",
                   auth_user="billing@acme", envelope_sender="invoices@acme.example",
                   recipients=("a@example.org",), size=10, payload=Sealed("acme/1", b"", b"", b""))


def stage(name, verdict, reason="", headers=(), flags=None, calls=None):
    async def run(msg, content, tenant, config):
        if calls is not None:
            calls.append((name, content))
        return pipeline.StageOutput([StageResult(name, verdict, reason)], headers_to_add=list(headers),
                                    flags=dict(flags or {}))
    return name, run


async def signer(msg, content, tenant, config):
    return pipeline.StageOutput([StageResult("sign", Verdict.PASS, "sign.ok")],
                                content=b"DKIM-Signature: x\r\n" + content)


async def test_tag_adds_headers_that_the_signer_then_covers():
    calls = []
    outcome = await pipeline.run(message(), b"Subject: hi\r\n\r\nbody\r\n", None, None, [
        stage("scan", Verdict.TAG, "scan.spam", headers=[("X-Postwarden-Spam", "yes; score=6")],
              calls=calls),
        stage("dlp", Verdict.PASS, "dlp.pass", calls=calls),
        ("sign", signer)])
    assert outcome.route == pipeline.ROUTE_OUTBOUND
    assert outcome.content.startswith(b"DKIM-Signature: x\r\nX-Postwarden-Spam: yes; score=6\r\n")
    assert calls[1] == ("dlp", b"X-Postwarden-Spam: yes; score=6\r\nSubject: hi\r\n\r\nbody\r\n")
    assert [r.reason for r in outcome.message.results] == ["scan.spam", "dlp.pass", "sign.ok"]


@pytest.mark.parametrize("verdict, route", [(Verdict.REJECT, pipeline.ROUTE_REJECT),
                                            (Verdict.QUARANTINE, pipeline.ROUTE_QUARANTINE),
                                            (Verdict.TEMPFAIL, pipeline.ROUTE_HOLD)])
async def test_a_stopping_verdict_ends_the_chain_before_signing(verdict, route):
    calls = []
    outcome = await pipeline.run(message(), b"x", None, None, [
        stage("scan", verdict, "scan.virus", calls=calls), stage("sign", Verdict.PASS, calls=calls)])
    assert outcome.route == route
    assert [name for name, _ in calls] == ["scan"]
    assert outcome.final.reason == "scan.virus"


async def test_stage_flags_reach_the_message():
    outcome = await pipeline.run(message(), b"x", None, None, [
        stage("dlp", Verdict.PASS, "dlp.ssn", flags={"encrypt": "tls"})])
    assert outcome.message.flags == {"encrypt": "tls"}


def test_released_messages_are_only_signed():
    assert [name for name, _ in pipeline.default_stages(object(), released=True)] == ["sign"]
    assert [name for name, _ in pipeline.default_stages(object())] == ["scan", "dlp", "sign"]
    assert [name for name, _ in pipeline.default_stages(None)] == ["dlp", "sign"]
