"""Impersonation checks (pure): each case flagged, and ordinary tenant mail left alone."""

from __future__ import annotations

from email.header import Header

import pytest

from agents.scan import impersonation
from agents.scan.confusables import domain_skeleton, edit_distance, skeleton
from postwarden.config.content import ProtectedName, TenantContent
from postwarden.config.model import Domain, Tenant
from tests.agents.scan import mail


def tenant(**policy) -> Tenant:
    content = TenantContent(protect=(ProtectedName("Jane Doe", ("jane.doe@acme.example",)),
                                     ProtectedName("Payroll Team")), **policy)
    return Tenant("acme", "Acme Corp", (Domain("acme.example"), Domain("acme-billing.example")), (),
                  content=content)


def kinds(content: bytes, **policy) -> list[str]:
    return sorted(f.kind for f in impersonation.check(content, tenant(**policy)))


# -- no false alarms on the tenant's own mail --------------------------------------
@pytest.mark.parametrize("content", [
    mail.clean_invoice(),
    mail.message(display_name="Acme Corp Billing").as_bytes(),
    mail.message(display_name="Jane Doe", sender="jane.doe@acme.example").as_bytes(),
    mail.message(display_name="billing@acme.example").as_bytes(),
    mail.message(reply_to="support@acme.example").as_bytes(),
    mail.message(reply_to="Help <help@eu.acme-billing.example>").as_bytes(),
    mail.message(html='<a href="https://www.acme.example/pay?x=1">acme.example/pay</a> '
                      '<a href="https://tracker.example/c?u=1">Pay now</a> '
                      '<a href="https://cdn.acme.example/INV-1042.pdf">INV-1042.pdf</a> '
                      '<a href="https://pay.acme.example/x">https://acme.example/x</a>').as_bytes(),
    mail.message(text="Pay at https://pay.acme.example/ or read https://example.org/terms").as_bytes(),
], ids=["invoice", "org-name", "exec-own-address", "own-address-in-name", "reply-to-own",
        "reply-to-own-subdomain", "honest-links", "own-links"])
def test_ordinary_mail_has_no_findings(content):
    assert kinds(content, forbid_external_reply_to=True) == []


# -- display names -------------------------------------------------------------------
@pytest.mark.parametrize("display_name", [
    "Jane Doe", "JANE DOE (CEO)", "Jаne Dоe",   # Cyrillic а and о
    "Jane  D0e", "JaneDoe", "Jane Doé", "Ｊａｎｅ Ｄｏｅ",
], ids=["plain", "upper-title", "cyrillic", "zero", "joined", "accent", "fullwidth"])
def test_display_name_claiming_an_executive(display_name):
    content = mail.message(display_name=display_name, sender="noreply@acme.example").as_bytes()
    assert kinds(content) == ["display_name"]


def test_display_name_in_rfc2047_words_is_decoded():
    encoded = Header("Jane Doe", "utf-8").encode()
    assert encoded.startswith("=?utf-8?")
    content = mail.with_raw_header(mail.message(display_name="").as_bytes(), "From",
                                   f"{encoded} <noreply@acme.example>")
    assert kinds(content) == ["display_name"]


def test_display_name_in_raw_utf8_header():
    content = mail.with_raw_header(mail.message(display_name="").as_bytes(), "From",
                                   "Jаne Dоe <noreply@acme.example>")
    assert kinds(content) == ["display_name"]


def test_organisation_name_outside_the_tenant_domains():
    content = mail.message(display_name="Acme Corp", sender="billing@acme-corp.example").as_bytes()
    assert "display_name" in kinds(content)


def test_protected_name_without_addresses_is_fine_from_tenant_domains():
    content = mail.message(display_name="Payroll Team", sender="hr@acme.example").as_bytes()
    assert kinds(content) == []
    content = mail.message(display_name="Payroll Team", sender="hr@payroll.example").as_bytes()
    assert kinds(content) == ["display_name"]


def test_sender_header_is_checked_too():
    content = mail.message(headers={"Sender": '"Jane Doe" <robot@acme.example>'}).as_bytes()
    assert kinds(content) == ["display_name"]


@pytest.mark.parametrize("display_name", ["ceo@acme.example", "Jane (jane.doe@acme.example)",
                                          "support＠acme.example"])
def test_display_name_showing_another_address(display_name):
    content = mail.message(display_name=display_name, sender="billing@acme.example").as_bytes()
    assert "display_name_address" in kinds(content)


# -- look-alike domains ---------------------------------------------------------------
@pytest.mark.parametrize("where,domain", [
    ("from", "acrne.example"),               # rn for m
    ("from", "acme.exampIe"),                # capital I for l
    ("reply", "аcme.example"),               # Cyrillic а
    ("link", "xn--cme-5cd.example"),         # the same, as punycode
    ("link", "acme.exmaple"),                # transposition
    ("link", "acme-billing.exampl"),         # deletion, second tenant domain
    ("link", "login.acme.examp1e"),          # subdomain of a look-alike
    ("link", "secure-acme-example.com"),     # the domain spelled with hyphens
    ("link", "acme.example.login-portal.test"),  # the domain as the left part of another
])
def test_lookalike_domains(where, domain):
    if where == "from":
        content = mail.message(sender=f"billing@{domain}", display_name="Billing").as_bytes()
    elif where == "reply":
        content = mail.with_raw_header(mail.message().as_bytes(), "Reply-To", f"pay@{domain}")
    else:
        content = mail.message(html=f'<p>Pay <a href="https://{domain}/pay">here</a></p>').as_bytes()
    findings = impersonation.check(content, tenant())
    assert [f.kind for f in findings] == ["lookalike_domain"]
    assert "looks like acme" in findings[0].detail


def test_lookalike_in_plain_text_url():
    content = mail.message(text="Please pay at https://acme.exarnple/pay by Friday.").as_bytes()
    assert kinds(content) == ["lookalike_domain"]


def test_unrelated_domains_are_not_lookalikes():
    content = mail.message(text="See https://example.org, https://acme.com.example.net.invalid "
                                "and https://github.com/acme").as_bytes()
    assert kinds(content) == []


# -- Reply-To ---------------------------------------------------------------------------
def test_external_reply_to_only_when_forbidden():
    content = mail.message(reply_to="payments@gmail.example").as_bytes()
    assert kinds(content, forbid_external_reply_to=True) == ["reply_to"]
    assert kinds(content, forbid_external_reply_to=False) == []


# -- links --------------------------------------------------------------------------------
@pytest.mark.parametrize("anchor", [
    '<a href="https://evil.example/login">https://acme.example/login</a>',
    '<a href="http://198.51.100.7/x">www.acme.example</a>',
    '<a href="https://evil.example/">  acme.example  </a>',
    '<a href="https://evil.example/"><b>portal.partner.example</b></a>',
    "<a href='https://evil.example/'>https://acme.example</a>",
])
def test_link_text_showing_another_domain(anchor):
    content = mail.message(html=f"<html><body><p>{anchor}</p></body></html>").as_bytes()
    findings = impersonation.check(content, tenant())
    assert [f.kind for f in findings] == ["link_mismatch"]
    assert "goes to" in findings[0].detail


def test_detail_holds_no_message_text():
    secret_text = "account 4111 1111 1111 1111"
    content = mail.message(display_name="Jane Doe", text=f"{secret_text}\n",
                           html=f'<a href="https://evil.example">acme.example</a> {secret_text}').as_bytes()
    findings = impersonation.check(content, tenant())
    assert findings and all(secret_text not in f.detail for f in findings)


# -- robustness: untrusted input never raises ----------------------------------------------
@pytest.mark.parametrize("content", [
    b"", b"\r\n\r\n", b"From: \r\n\r\n", b"From: <<<@@@>>>\r\nReply-To: ,,,\r\n\r\nbody",
    b"From: =?bogus?x?zz?= <a@b>\r\nContent-Type: text/html; charset=nope\r\n\r\n<a href='http://[::1'>x",
    b"From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64\r\n--x",
    b"From: \xff\xfe <a@\xff.example>\r\n\r\n\xff",
])
def test_malformed_mail_does_not_raise(content):
    assert isinstance(impersonation.check(content, tenant()), list)


# -- the building blocks ------------------------------------------------------------------
def test_skeleton_and_distance():
    assert skeleton("аcme") == skeleton("acme")            # UTS #39 example class
    assert skeleton("acme") == skeleton("acrne")            # m -> rn
    assert domain_skeleton("xn--cme-5cd.example") == domain_skeleton("ACME.example")
    assert domain_skeleton("paypa1.example") == domain_skeleton("paypal.example")
    assert edit_distance("acme.example", "acme.exmaple") == 1
    assert edit_distance("acme", "emca", limit=2) == 3


def test_links_into_tenant_or_trusted_tracking_hosts_are_not_mismatches():
    html = ('<a href="https://click.acme.example/t/1">https://portal.partner.example/</a> '
            '<a href="https://links.esp.example/c/2">https://acme.example/pay</a>')
    content = mail.message(html=html).as_bytes()
    assert kinds(content) == ["link_mismatch"]             # the ESP link, until trusted
    assert kinds(content, trusted_link_domains=("esp.example",)) == []


def test_mutated_mail_never_raises():
    import random
    rng = random.Random(1729)
    seeds = [mail.message(display_name="Jane Doe", reply_to="x@acrne.example",
                          html='<a href="https://evil.example/">acme.example</a>').as_bytes(),
             mail.eicar_forwarded(), mail.clean_invoice()]
    for _ in range(300):
        content = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 40)):
            position = rng.randrange(len(content))
            content[position:position + rng.randint(0, 8)] = bytes(
                rng.choice(b"<>@\"=?\r\n:;,.\\\x00\xff\xc3ab ") for _ in range(rng.randint(0, 8)))
        assert isinstance(impersonation.check(bytes(content), tenant()), list)
