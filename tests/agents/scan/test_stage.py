"""scan_message end to end against the real clamd and rspamd: verdicts per tenant policy."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from agents.scan import ScanClients, make_clients, reasons, scan_message
from agents.scan.scanners import ClamdClient, RspamdClient
from postwarden.config.content import ProtectedName, Scanners, SpamThresholds, TenantContent, Timeouts
from postwarden.config.model import Domain, Tenant
from postwarden.verdicts import Verdict
from tests.agents.scan import mail
from tests.agents.scan.test_scanners import hanging_server  # noqa: F401
from tests.fixtures.scanners import EICAR, free_port

pytestmark = [pytest.mark.timeout(120), pytest.mark.clamd, pytest.mark.rspamd]

META = SimpleNamespace(id="msg-1", envelope_sender="billing@acme.example",
                       recipients=("customer@client.example",), client_address="192.0.2.10",
                       helo="app1.acme.example", auth_user="billing-app")


def tenant(**policy) -> Tenant:
    content = TenantContent(protect=(ProtectedName("Jane Doe", ("jane.doe@acme.example",)),),
                            **policy)
    return Tenant("acme", "Acme Corp", (Domain("acme.example"),), (), content=content)


@pytest.fixture
async def clients(clamd_server, rspamd_server):
    scanners = Scanners(clamd=clamd_server.address, rspamd=rspamd_server.address,
                        timeouts=Timeouts(clamd=10, rspamd=10, connect=2))
    made = make_clients(scanners)
    yield made
    await made.close()


async def scan(content: bytes, clients: ScanClients, **policy):
    return await scan_message(content, META, tenant(**policy), None, clients)


def by_reason(outcome, reason):
    return [r for r in outcome.results if r.reason == reason]


# -- viruses --------------------------------------------------------------------------
@pytest.mark.parametrize("build", [mail.eicar_plain, mail.eicar_zip, mail.eicar_base64_attachment,
                                   mail.eicar_forwarded], ids=["plain", "zip", "base64", "forwarded"])
async def test_eicar_is_rejected_with_a_clean_dsn_reason(clients, build):
    outcome = await scan(build(), clients)
    assert outcome.verdict is Verdict.REJECT
    [virus] = by_reason(outcome, reasons.VIRUS)
    assert virus.stage == "scan" and virus.details["signature"].startswith("Eicar-Test-Signature")
    text = outcome.dsn_text()
    assert "malware" in text and "Eicar-Test-Signature" in text
    # Neither the DSN sentence nor any recorded detail carries the payload.
    assert EICAR.decode() not in text and "EICAR-STANDARD" not in text
    assert all("EICAR-STANDARD" not in str(r.details) for r in outcome.results)


async def test_virus_policy_quarantine(clients):
    outcome = await scan(mail.eicar_zip(), clients, virus="quarantine")
    assert outcome.verdict is Verdict.QUARANTINE
    assert outcome.deciding.reason == reasons.VIRUS


async def test_clean_invoice_passes_with_every_check_recorded(clients):
    outcome = await scan(mail.clean_invoice(), clients)
    assert outcome.verdict is Verdict.PASS
    assert [r.reason for r in outcome.results] == [reasons.CLEAN, reasons.HAM, reasons.NO_IMPERSONATION]
    ham = outcome.results[1]
    assert float(ham.details["score"]) < 6 and ham.details["symbols"]
    assert outcome.headers_to_add == []


# -- spam: the tenant's thresholds decide ----------------------------------------------
@pytest.mark.parametrize("spam,verdict", [
    (SpamThresholds(5, 8, 15), Verdict.REJECT),
    (SpamThresholds(5, 8, None), Verdict.QUARANTINE),
    (SpamThresholds(5, None, None), Verdict.TAG),
    (SpamThresholds(None, None, None), Verdict.PASS),
], ids=["reject", "quarantine", "tag", "off"])
async def test_gtube_gets_the_configured_action(clients, spam, verdict):
    outcome = await scan(mail.gtube(), clients, spam=spam)
    assert outcome.verdict is verdict
    [result] = [r for r in outcome.results if r.details.get("scanner") == "rspamd"]
    assert float(result.details["score"]) >= 15 and "GTUBE" in result.details["symbols"]
    assert result.reason == (reasons.HAM if verdict is Verdict.PASS else reasons.SPAM)
    if verdict is Verdict.TAG:
        [(name, value)] = outcome.headers_to_add
        assert name == "X-Postwarden-Spam" and value == "yes; score=15.00; action=tag"
    if verdict is Verdict.REJECT:
        assert "spam" in outcome.dsn_text()


# -- impersonation ------------------------------------------------------------------------
@pytest.mark.parametrize("content,reason", [
    (mail.message(display_name="Jane Doe").as_bytes(), "scan.impersonation.display_name"),
    (mail.message(display_name="ceo@acme.example").as_bytes(), "scan.impersonation.display_name_address"),
    (mail.message(text="Pay at https://acrne.example/pay").as_bytes(), "scan.impersonation.lookalike_domain"),
    (mail.message(reply_to="pay@gmail.example").as_bytes(), "scan.impersonation.reply_to"),
    (mail.message(html='<a href="https://evil.example/">https://acme.example/</a>').as_bytes(),
     "scan.impersonation.link_mismatch"),
])
async def test_impersonation_is_quarantined(clients, content, reason):
    outcome = await scan(content, clients, forbid_external_reply_to=True)
    assert outcome.verdict is Verdict.QUARANTINE
    assert outcome.deciding.reason == reason


async def test_impersonation_tag_adds_a_header(clients):
    content = mail.message(display_name="Jane Doe").as_bytes()
    outcome = await scan(content, clients, impersonation=(("display_name", "tag"),))
    assert outcome.verdict is Verdict.TAG
    assert ("X-Postwarden-Impersonation", "display_name") in outcome.headers_to_add


# -- scanners down: the failure policy, never a silent skip ----------------------------------
def down_clients(rspamd_server=None, clamd_server=None):
    return ScanClients(
        clamd=ClamdClient(clamd_server.address if clamd_server else f"127.0.0.1:{free_port()}", 2),
        rspamd=RspamdClient(rspamd_server.address if rspamd_server else f"http://127.0.0.1:{free_port()}", 2))


async def test_scanner_down_hold_is_tempfail():
    clients = down_clients()
    try:
        outcome = await scan(mail.eicar_plain(), clients, scanner_down="hold")
    finally:
        await clients.close()
    assert outcome.verdict is Verdict.TEMPFAIL
    down = by_reason(outcome, reasons.SCANNER_DOWN)
    assert sorted(r.details["scanner"] for r in down) == ["clamd", "rspamd"]
    assert all(r.verdict is Verdict.TEMPFAIL and r.details["policy"] == "hold" for r in down)
    assert "retried" in outcome.dsn_text()


async def test_scanner_down_pass_is_audited(rspamd_server):
    clients = down_clients(rspamd_server=rspamd_server)      # clamd down, rspamd up
    try:
        outcome = await scan(mail.clean_invoice(), clients, scanner_down="pass")
    finally:
        await clients.close()
    assert outcome.verdict is Verdict.PASS
    [down] = by_reason(outcome, reasons.SCANNER_DOWN)
    assert down.verdict is Verdict.PASS and down.details["scanner"] == "clamd"
    assert "fail open" in down.details["note"] and "connect" in down.details["error"]
    assert by_reason(outcome, reasons.HAM)


async def test_one_scanner_down_does_not_hide_the_other(clamd_server):
    clients = down_clients(clamd_server=clamd_server)       # rspamd down, clamd finds the virus
    try:
        outcome = await scan(mail.eicar_zip(), clients, scanner_down="hold")
    finally:
        await clients.close()
    assert outcome.verdict is Verdict.REJECT
    assert by_reason(outcome, reasons.SCANNER_DOWN)[0].verdict is Verdict.TEMPFAIL


async def test_unconfigured_scanners_are_recorded():
    outcome = await scan(mail.clean_invoice(), ScanClients())
    assert outcome.verdict is Verdict.PASS
    assert len(by_reason(outcome, reasons.NOT_CONFIGURED)) == 2


async def test_hanging_clamd_times_out_and_does_not_stall_other_messages(hanging_server, rspamd_server,
                                                                          clamd_server):
    stuck = ScanClients(clamd=ClamdClient(f"127.0.0.1:{hanging_server}", 1.0),
                        rspamd=RspamdClient(rspamd_server.address, 5))
    healthy = ScanClients(clamd=ClamdClient(clamd_server.address, 5),
                          rspamd=RspamdClient(rspamd_server.address, 5))
    try:
        started = time.monotonic()
        stuck_runs = [asyncio.create_task(scan(mail.clean_invoice(), stuck, scanner_down="hold"))
                      for _ in range(20)]
        healthy_started = time.monotonic()
        healthy_outcome = await scan(mail.eicar_zip(), healthy)
        healthy_took = time.monotonic() - healthy_started
        stuck_outcomes = await asyncio.gather(*stuck_runs)
        total = time.monotonic() - started
    finally:
        await stuck.close()
        await healthy.close()
    # Another tenant's message is decided while 20 messages wait on the stuck clamd.
    assert healthy_outcome.verdict is Verdict.REJECT and healthy_took < 1.0
    # Every stuck message ends at its own deadline (in parallel, not one after another).
    assert all(o.verdict is Verdict.TEMPFAIL for o in stuck_outcomes)
    assert all("no answer within 1s" in by_reason(o, reasons.SCANNER_DOWN)[0].details["error"]
               for o in stuck_outcomes)
    assert total < 3.0


async def test_large_message_is_checked_off_the_event_loop(clients):
    from agents.scan.stage import INLINE_CHECK_LIMIT
    filler = "An ordinary line of a long statement, nothing more to it.\n" * (INLINE_CHECK_LIMIT // 50)
    content = mail.message(text=filler + "Pay at https://acme.exarnple/pay\n").as_bytes()
    assert len(content) > INLINE_CHECK_LIMIT
    outcome = await scan(content, clients)
    assert outcome.verdict is Verdict.QUARANTINE
    assert outcome.deciding.reason == "scan.impersonation.lookalike_domain"


async def test_stopped_message_still_names_its_findings_in_headers(clients):
    # Quarantined spam + impersonation: if an operator releases it, the headers say why.
    content = mail.message(display_name="Jane Doe", text=f"{mail.GTUBE}\n").as_bytes()
    outcome = await scan(content, clients, spam=SpamThresholds(5, 8, None))
    assert outcome.verdict is Verdict.QUARANTINE
    assert dict(outcome.headers_to_add) == {
        "X-Postwarden-Spam": "yes; score=15.00; action=quarantine",
        "X-Postwarden-Impersonation": "display_name"}
