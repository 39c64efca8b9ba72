"""The tenant `dlp` key: the issue's shape parses; mistakes name tenant, key and expectation."""

import pytest

from postwarden.config.dlp import DlpLimits, DlpPolicy, DlpRule, parse_tenant
from postwarden.config.reader import ConfigError, Problems, Section


def parse(dlp, tenant="acme"):
    problems = Problems("test.yaml")
    section = Section({"id": tenant, "dlp": dlp}, f"tenants[{tenant}]", problems, tenant)
    policy = parse_tenant(section)
    return policy, problems.items


def test_issue_example():
    policy, problems = parse({"rules": [
        {"name": "cards", "detectors": ["credit_card"], "min_count": 1,
         "where": ["headers", "body", "attachments"], "action": "block"},
        {"name": "health", "detectors": ["icd10_code", "us_npi"], "min_count": 1,
         "action": "quarantine", "mode": "log_only"},
    ]})
    assert problems == []
    assert policy.rules == (
        DlpRule("cards", ("credit_card",), 1, ("headers", "body", "attachments"), "block"),
        DlpRule("health", ("icd10_code", "us_npi"), 1, ("headers", "body", "attachments"),
                "quarantine", "log_only"),
    )
    assert policy.detectors == {"credit_card", "icd10_code", "us_npi"}


def test_absent_key_is_an_empty_policy():
    problems = Problems()
    assert parse_tenant(Section({"id": "acme"}, "tenants[acme]", problems, "acme")) == DlpPolicy()
    assert problems.items == []


def test_limits_and_threshold():
    policy, problems = parse({"rules": [], "bulk_email_threshold": 25,
                              "limits": {"archive_depth": 2, "expanded_bytes": 1048576}})
    assert problems == []
    assert policy.limits == DlpLimits(archive_depth=2, expanded_bytes=1048576)
    assert policy.bulk_email_threshold == 25


@pytest.mark.parametrize("dlp,path,expected", [
    ({"rules": [{"name": "x", "detectors": ["credit_crad"], "action": "block"}]},
     "tenants[acme].dlp.rules[x].detectors", "credit_card"),
    ({"rules": [{"name": "x", "detectors": ["iban"], "action": "delete"}]},
     "tenants[acme].dlp.rules[x].action", "one of block, quarantine, require_encryption"),
    ({"rules": [{"name": "x", "detectors": ["iban"], "action": "block", "mode": "dry"}]},
     "tenants[acme].dlp.rules[x].mode", "one of enforce, log_only"),
    ({"rules": [{"name": "x", "detectors": ["iban"], "action": "block", "min_count": 0}]},
     "tenants[acme].dlp.rules[x].min_count", "a whole number of at least 1"),
    ({"rules": [{"name": "x", "detectors": ["iban"], "action": "block", "where": ["footer"]}]},
     "tenants[acme].dlp.rules[x].where", "headers, body, attachments"),
    ({"rules": [{"name": "x", "detectors": ["iban"], "action": "block", "colour": "red"}]},
     "tenants[acme].dlp.rules[x].colour", "a known key"),
    ({"rules": [{"name": "x", "detectors": ["iban"]}]},
     "tenants[acme].dlp.rules[x].action", "the key is required"),
    ({"rules": [{"name": "Bad Name", "detectors": ["iban"], "action": "block"}]},
     "tenants[acme].dlp.rules[Bad Name].name", "a rule name"),
    ({"rules": [{"name": "x", "detectors": ["iban"], "action": "block", "encryption": "tls"}]},
     "tenants[acme].dlp.rules[x].encryption", "unless action is require_encryption"),
    ({"rules": [{"name": "x", "detectors": ["iban"], "action": "block"},
                {"name": "x", "detectors": ["iban"], "action": "block"}]},
     "tenants[acme].dlp.rules", "unique rule names"),
    ({"rules": "cards"}, "tenants[acme].dlp.rules", "a list"),
    ({"rule": []}, "tenants[acme].dlp.rule", "a known key"),
    ({"limits": {"archive_depth": -1}}, "tenants[acme].dlp.limits.archive_depth", "from 0 to 20"),
    ("block everything", "tenants[acme].dlp", "a mapping"),
])
def test_problems_name_tenant_key_and_expectation(dlp, path, expected):
    _, problems = parse(dlp)
    assert problems, "a problem must be reported"
    problem = next(p for p in problems if p.path == path)
    assert problem.tenant == "acme"
    text = str(problem)
    assert text.startswith("tenant acme: " + path) and expected in text


def test_whole_document_error_names_the_tenant():
    from postwarden.config.model import parse as parse_document
    document = {"tenants": [{"id": "acme", "domains": [{"name": "acme.example"}],
                             "dlp": {"rules": [{"name": "c", "detectors": ["nope"],
                                                "action": "block"}]}}]}
    with pytest.raises(ConfigError) as error:
        parse_document(document, source="postwarden.yaml")
    message = str(error.value)
    assert "tenant acme: tenants[acme].dlp.rules[c].detectors: expected a list of detectors" \
        in message


def test_policy_is_immutable_and_clone_refuses_unknown_keys():
    policy = DlpPolicy()
    with pytest.raises(Exception):
        policy.rules = ()  # type: ignore[misc]
    assert policy.clone(bulk_email_threshold=5).bulk_email_threshold == 5
    with pytest.raises(TypeError):
        policy.clone(colour="red")
