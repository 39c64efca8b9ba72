"""Ingress at SMTP time, over real sockets: TLS before AUTH, credentials, grants, limits.

Every refusal has its own reply code; a 250 carries the message id.
"""

import smtplib

import pytest

from tests.fixtures.relay import PASSWORD, acme_message

pytestmark = pytest.mark.broker


def test_accepted_message_gets_an_id_in_the_250(relay):
    code, text = relay.submit(acme_message())
    assert code == 250, text
    assert b"queued as" in text
    message_id = text.split(b"queued as ")[1].strip().decode()
    assert len(message_id) == 26 and message_id.isalnum()


def test_implicit_tls_submission_works(relay):
    code, text = relay.submit(acme_message(), tls="implicit")
    assert code == 250, text


def test_auth_is_not_offered_or_accepted_before_tls(relay):
    client = relay.connect(tls="none")
    try:
        assert not client.has_extn("auth")
        assert client.has_extn("starttls")
        code, text = client.docmd("AUTH", "PLAIN AGJpbGxpbmdAYWNtZQBwYXNzd29yZA==")
        assert code == 530 or code == 538, text          # 530 STARTTLS first / 538 encryption required
        code, _ = client.docmd("MAIL", "FROM:<invoices@acme.example>")
        assert code == 530
    finally:
        client.close()


def test_auth_offered_after_starttls_with_plain_and_login(relay):
    client = relay.connect()
    try:
        mechanisms = client.esmtp_features.get("auth", "").upper().split()
        assert {"PLAIN", "LOGIN"} <= set(mechanisms)
    finally:
        client.quit()


@pytest.mark.parametrize("method", ["PLAIN", "LOGIN"])
def test_both_auth_mechanisms_accept_the_right_password(relay, method):
    client = relay.connect()
    try:
        client.user, client.password = "billing@acme", PASSWORD
        code, _ = client.auth(method, getattr(client, f"auth_{method.lower()}"),
                              initial_response_ok=method == "PLAIN")
        assert code == 235
    finally:
        client.quit()


def test_wrong_password_is_535(relay):
    client = relay.connect()
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            client.login("billing@acme", "wrong password")
        assert error.value.smtp_code == 535
        assert b"5.7.8" in error.value.smtp_error
    finally:
        client.close()


def test_unknown_user_is_535(relay):
    client = relay.connect()
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            client.login("nobody@acme", PASSWORD)
        assert error.value.smtp_code == 535
    finally:
        client.close()


def test_source_address_outside_allowed_ips_is_refused(relay):
    # the app allows 127.0.0.1/32 only; connect from another loopback address
    client = relay.connect(source="127.0.0.2")
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            client.login("billing@acme", PASSWORD)
        assert error.value.smtp_code == 535
        assert b"127.0.0.2" in error.value.smtp_error
    finally:
        client.close()


def test_unauthenticated_mail_is_refused(relay):
    client = relay.connect()
    try:
        code, text = client.mail("invoices@acme.example")
        assert code == 530, text
    finally:
        client.close()


def test_envelope_sender_not_granted_is_550(relay):
    code, text = relay.submit(acme_message(), sender="ceo@acme.example")
    assert code == 550 and b"5.7.1" in text and b"ceo@acme.example" in text


def test_null_envelope_sender_is_refused(relay):
    code, text = relay.submit(acme_message(), sender="")
    assert code == 550 and b"5.7.1" in text


def test_header_from_not_granted_is_550(relay):
    message = acme_message()
    del message["From"]
    message["From"] = "Acme CEO <ceo@acme.example>"
    code, text = relay.submit(message)
    assert code == 550 and b"ceo@acme.example" in text


def test_display_name_cannot_smuggle_a_granted_address(relay):
    message = acme_message()
    del message["From"]
    message["From"] = '"invoices@acme.example" <attacker@evil.example>'
    code, text = relay.submit(message)
    assert code == 550 and b"attacker@evil.example" in text


def test_message_without_from_is_refused(relay):
    message = acme_message()
    del message["From"]
    code, text = relay.submit(message)
    assert code == 550 and b"no From header" in text


def test_two_from_headers_are_refused(relay):
    raw = (b"From: invoices@acme.example\r\nFrom: ceo@acme.example\r\nTo: a@example.org\r\n"
           b"Subject: x\r\n\r\nbody\r\n")
    code, text = relay.submit(raw)
    assert code == 550 and b"more than one From" in text


def test_every_from_address_must_be_granted(relay):
    raw = (b"From: invoices@acme.example, ceo@acme.example\r\nTo: a@example.org\r\n"
           b"Subject: x\r\n\r\nbody\r\n")
    code, text = relay.submit(raw)
    assert code == 550 and b"ceo@acme.example" in text


def test_sender_header_not_granted_is_refused(relay):
    message = acme_message()
    message["Sender"] = "someone@globex.example"
    code, text = relay.submit(message)
    assert code == 550 and b"Sender header" in text


def test_pattern_grant_allows_a_subdomain_sender(relay):
    message = acme_message(sender="notices@billing.acme.example")
    code, text = relay.submit(message, sender="notices@billing.acme.example")
    assert code == 250, text


def test_other_tenants_app_cannot_send_as_acme(relay):
    code, text = relay.submit(acme_message(), username="crm@globex")
    assert code == 550 and b"5.7.1" in text


def test_oversized_message_is_552(relay):
    message = acme_message(body="x" * 76 + "\n")
    message.set_content(("y" * 70 + "\n") * 4000)      # ~284 KB > the 200 KB test limit
    code, text = relay.submit(message)
    assert code == 552, text


def test_size_declared_too_big_is_refused_at_mail(relay):
    client = relay.connect()
    try:
        relay.login(client)
        code, text = client.mail("invoices@acme.example", ["SIZE=999999999"])
        assert code == 552, text
    finally:
        client.close()


def test_too_many_recipients_is_452(relay):
    client = relay.connect()
    try:
        relay.login(client)
        assert client.mail("invoices@acme.example")[0] == 250
        codes = [client.rcpt(f"user{i}@example.org")[0] for i in range(6)]
        assert codes[:5] == [250] * 5 and codes[5] == 452
    finally:
        client.close()


def test_policy_refusals_are_audited(relay):
    from postwarden import codec
    import time

    code, _ = relay.submit(acme_message(), sender="payroll@acme.example")
    assert code == 550
    deadline = time.monotonic() + 10
    refused = []
    while time.monotonic() < deadline and not refused:
        refused = [e for e in (codec.decode(v) for v in relay.raw_records("audit"))
                   if e["event"] == "refused" and e["envelope_sender"] == "payroll@acme.example"]
        time.sleep(0.3)
    assert refused, "no refused event on the audit topic"
    assert refused[0]["tenant_id"] == "acme" and refused[0]["app_id"] == "billing"
    assert refused[0]["reply"]["code"] == 550 and refused[0]["reply"]["enhanced"] == "5.7.1"
