"""The content security config keys: defaults, values read, and errors that name tenant and key."""

from __future__ import annotations

import pytest

from postwarden.config.content import ProtectedName, SpamThresholds, TenantContent, Timeouts
from postwarden.config.model import ConfigError, parse


def document(content_policy=None, protect=None, scanners=None) -> dict:
    tenant = {"id": "acme", "name": "Acme Corp", "domains": [{"name": "acme.example"}]}
    if content_policy is not None:
        tenant["content_policy"] = content_policy
    if protect is not None:
        tenant["protect"] = protect
    doc = {"tenants": [tenant]}
    if scanners is not None:
        doc["scanners"] = scanners
    return doc


def problems(doc) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(doc)
    return [str(p) for p in caught.value.problems]


def test_defaults_fail_closed():
    config = parse(document())
    content = config.tenant("acme").content
    assert content == TenantContent()
    assert content.virus == "reject" and content.scanner_down == "hold"
    assert content.spam == SpamThresholds(6.0, 10.0, 15.0)
    assert content.impersonation_action("display_name") == "quarantine"
    assert config.scanners.clamd is None and config.scanners.timeouts == Timeouts()


def test_the_issue_example_reads_back():
    config = parse(document(
        scanners={"clamd": "127.0.0.1:3310", "rspamd": "http://127.0.0.1:11333/",
                  "timeouts": {"clamd": "5s", "rspamd": 2, "connect": 1}},
        protect={"names": ["Acme Corp", "Jane Doe",
                           {"name": "John Roe", "addresses": ["John.Roe@acme.example"]}]},
        content_policy={"virus": "reject", "spam": {"tag_at": 5, "quarantine_at": 8, "reject_at": 15},
                        "impersonation": "quarantine", "scanner_down": "pass",
                        "forbid_external_reply_to": True,
                        "trusted_link_domains": ["Click.ESP.example."]}))
    assert config.scanners.clamd == "127.0.0.1:3310"
    assert config.scanners.rspamd == "http://127.0.0.1:11333"
    assert config.scanners.timeouts == Timeouts(clamd=5.0, rspamd=2.0, connect=1.0)
    content = config.tenant("acme").content
    assert content.protect == (ProtectedName("Acme Corp"), ProtectedName("Jane Doe"),
                               ProtectedName("John Roe", ("john.roe@acme.example",)))
    assert content.spam.action(4.9) == "pass" and content.spam.action(5) == "tag"
    assert content.spam.action(8) == "quarantine" and content.spam.action(99) == "reject"
    assert content.scanner_down == "pass" and content.forbid_external_reply_to
    assert content.trusted_link_domains == ("click.esp.example",)


def test_unix_socket_and_per_kind_impersonation_and_off_steps():
    config = parse(document(
        scanners={"clamd": "/run/clamav/clamd.ctl"},
        content_policy={"spam": {"tag_at": None, "quarantine_at": "off", "reject_at": 12},
                        "impersonation": {"default": "tag", "lookalike_domain": "reject"}}))
    content = config.tenant("acme").content
    assert config.scanners.clamd == "/run/clamav/clamd.ctl"
    assert content.spam.action(11) == "pass" and content.spam.action(12) == "reject"
    assert content.impersonation_action("lookalike_domain") == "reject"
    assert content.impersonation_action("display_name") == "tag"


@pytest.mark.parametrize("policy,where,expected", [
    ({"virus": "pass"}, "content_policy.virus", "one of reject, quarantine"),
    ({"scanner_down": "ignore"}, "content_policy.scanner_down", "one of hold, pass"),
    ({"spam": {"tag_at": "high"}}, "content_policy.spam.tag_at", "a number"),
    ({"spam": {"tag_at": 9, "quarantine_at": 5}}, "content_policy.spam.quarantine_at",
     "at or above tag_at"),
    ({"spam": {"reject": 5}}, "content_policy.spam.reject", "a known key"),
    ({"impersonation": "shrug"}, "content_policy.impersonation", "one of pass, tag"),
    ({"impersonation": {"display_nam": "tag"}}, "content_policy.impersonation.display_nam", "a known key"),
    ({"forbid_external_reply_to": "yes"}, "content_policy.forbid_external_reply_to", "true or false"),
    ({"viruses": "reject"}, "content_policy.viruses", "a known key"),
    ({"trusted_link_domains": ["not a domain"]}, "content_policy.trusted_link_domains", "domain names"),
])
def test_bad_policy_names_tenant_key_and_expectation(policy, where, expected):
    [problem] = problems(document(content_policy=policy))
    assert problem.startswith("tenant acme: ")
    assert where in problem and expected in problem


@pytest.mark.parametrize("protect,where", [
    ({"names": "Jane Doe"}, "protect.names"),
    ({"names": [{"addresses": ["x@acme.example"]}]}, "protect.names[0].name"),
    ({"names": [{"name": "Jane", "addresses": ["not-an-address"]}]}, "protect.names[0].addresses"),
    ({"names": [3]}, "protect.names[0]"),
    ({"people": ["Jane"]}, "protect.people"),
])
def test_bad_protect(protect, where):
    [problem] = problems(document(protect=protect))
    assert problem.startswith("tenant acme: ") and where in problem


@pytest.mark.parametrize("scanners,where", [
    ({"clamd": "localhost"}, "scanners.clamd"),
    ({"clamd": "relative/clamd.sock"}, "scanners.clamd"),
    ({"rspamd": "127.0.0.1:11333"}, "scanners.rspamd"),
    ({"timeouts": {"clamd": "soon"}}, "scanners.timeouts.clamd"),
    ({"timeouts": {"rspamd": 0}}, "scanners.timeouts.rspamd"),
    ({"clamav": "127.0.0.1:3310"}, "scanners.clamav"),
])
def test_bad_scanners(scanners, where):
    [problem] = problems(document(scanners=scanners))
    assert where in problem
