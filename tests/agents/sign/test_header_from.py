"""Regression: reading the header From for signing (display-name tricks, several From, malformed).

The domain that signs is decided from the From *address*; display names,
comments and RFC 2047 words that look like addresses never count, and a
message whose From is ambiguous is refused rather than guessed at.
"""

from __future__ import annotations

import pytest

from agents.sign import stage
from postwarden.verdicts import Verdict
from tests.agents.sign.helpers import message_from, verify_all


@pytest.mark.parametrize("from_value, domain", [
    (b"noreply@acme.example", "acme.example"),
    (b"Acme Billing <billing@ACME.example>", "acme.example"),
    (b"\"Doe, John\" <john@acme.example>", "acme.example"),
    (b"=?utf-8?q?Acme_=E2=82=AC_Billing?= <billing@acme.example>", "acme.example"),
    (b"=?utf-8?b?QWNtZSA8Y2VvQGJhbmsuZXhhbXBsZT4=?= <billing@acme.example>", "acme.example"),
    (b"\"ceo@bank.example\" <x@acme.example>", "acme.example"),
    (b"\"a\\\"@bank.example\" <x@acme.example>", "acme.example"),
    (b"(comment <x@bank.example>) b@acme.example", "acme.example"),
    (b"john@acme.example (John at bank.example)", "acme.example"),
    (b"Billing: a@acme.example, b@Acme.Example;", "acme.example"),
    (b"a@acme.example,\r\n b@acme.example", "acme.example"),
    (b"Name\r\n <folded@acme.example>", "acme.example"),
    (b"Name <@route.example:john@acme.example>", "acme.example"),
    (b"j@xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("Zoë <j@bücher.example>".encode(), "xn--bcher-kva.example"),
])
def test_header_from_domain_reads_the_address_not_the_display_name(from_value, domain):
    assert stage.header_from_domain(message_from(from_value)) == domain
    assert stage.header_from(message_from(from_value)).reason == "sign.ok"


@pytest.mark.parametrize("content, reason", [
    (message_from(b"a@acme.example, b@evil.example"), "sign.multiple_from"),
    (message_from(b"Group: a@acme.example, b@evil.example;"), "sign.multiple_from"),
    (message_from(b"a@acme.example", b"From: b@acme.example\r\n"), "sign.repeated_from_field"),
    (message_from(b"a@acme.example", b"from: a@acme.example\r\n"), "sign.repeated_from_field"),
    (b"To: bob@example.net\r\nSubject: none\r\n\r\nbody\r\n", "sign.no_from"),
    (message_from(b"undisclosed-senders:;"), "sign.no_from"),
    (message_from(b""), "sign.no_from"),
    (message_from(b"garbage"), "sign.bad_from"),
    (message_from(b"<>"), "sign.bad_from"),
    (message_from(b"john@[192.0.2.1]"), "sign.bad_from"),
    (message_from(b"John <john@acme.example> trailing junk"), "sign.bad_from"),
    (message_from(b"<a@evil.example>@acme.example"), "sign.bad_from"),
    (message_from(b"a@acme.example@evil.example"), "sign.bad_from"),
    (message_from(b"a@acme..example"), "sign.bad_from"),
    (message_from(b"a@acme.example\xff"), "sign.bad_from"),
    (message_from(b"a@=?utf-8?q?acme.example?="), "sign.bad_from"),
    (message_from(b"a @ acme . example"), "sign.bad_from"),
    (message_from(b"alice@acme.example)<bob@evil.example>"), "sign.bad_from"),
    (message_from(b"b@acme.example <c@evil.example>"), "sign.bad_from"),
    (message_from(b"a@acme.example."), "sign.bad_from"),
    (b"From: a@acme.example\r\nbroken line\r\n\r\n", "sign.malformed_header"),
])
def test_header_from_refusals(content, reason, tenant):
    found = stage.header_from(content)
    assert found.domain is None and found.reason == reason
    assert stage.header_from_domain(content) is None
    signed, result = stage.sign_submission(content, tenant)
    assert signed is None and (result.verdict, result.reason) == (Verdict.REJECT, reason)


def test_several_from_addresses_in_one_domain_are_signed(tenant, dns):
    signed, result = stage.sign_submission(message_from(b"a@acme.example, B <b@ACME.example>"), tenant)
    assert result.verdict is Verdict.PASS and result.details["d"] == "acme.example"
    assert verify_all(signed, dns) == [True, True]
