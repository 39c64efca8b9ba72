"""Tenant rules to verdicts: block, quarantine, require encryption, allow and log, log-only."""

from agents.dlp import decide, inspect
from agents.dlp.findings import Finding, Findings
from postwarden.config.dlp import DlpPolicy, DlpRule
from postwarden.verdicts import Verdict, strongest
from tests.agents.dlp.helpers import text_message, with_attachment

CARD_MESSAGE = text_message("Your card 4111 1111 1111 1111 was charged.")


def policy(*rules: DlpRule) -> DlpPolicy:
    return DlpPolicy(rules=rules)


def test_block_rejects_naming_the_rule_not_the_data():
    p = policy(DlpRule("cards", ("credit_card",), action="block"))
    results = decide(inspect(CARD_MESSAGE, p), p)
    assert [(r.stage, r.verdict, r.reason) for r in results] == [("dlp", Verdict.REJECT, "dlp.cards")]
    details = results[0].details
    assert details["findings"] == "credit_card:body:1"
    assert "4111" not in repr(results)


def test_quarantine():
    p = policy(DlpRule("cards", ("credit_card",), action="quarantine"))
    assert decide(inspect(CARD_MESSAGE, p), p)[0].verdict is Verdict.QUARANTINE


def test_require_encryption_passes_with_a_flag():
    p = policy(DlpRule("cards", ("credit_card",), action="require_encryption", encryption="smime"))
    [result] = decide(inspect(CARD_MESSAGE, p), p)
    assert result.verdict is Verdict.PASS and result.reason == "dlp.cards"
    assert result.details["require_encryption"] == "smime"


def test_allow_and_log():
    p = policy(DlpRule("cards", ("credit_card",), action="allow_and_log"))
    [result] = decide(inspect(CARD_MESSAGE, p), p)
    assert (result.verdict, result.reason) == (Verdict.PASS, "dlp.cards")


def test_log_only_passes_and_says_what_it_would_have_done():
    p = policy(DlpRule("cards", ("credit_card",), action="block", mode="log_only"))
    [result] = decide(inspect(CARD_MESSAGE, p), p)
    assert result.verdict is Verdict.PASS
    assert result.details["mode"] == "log_only" and result.details["would"] == "reject"
    assert result.reason == "dlp.cards"


def test_min_count_and_where():
    findings = Findings((Finding("credit_card", "body", 2), Finding("credit_card", "attachments", 1)))
    assert decide(findings, policy(DlpRule("c", ("credit_card",), min_count=3)))[0].verdict \
        is Verdict.REJECT
    assert decide(findings, policy(DlpRule("c", ("credit_card",), min_count=4)))[0].reason \
        == "dlp.pass"
    only_attachments = policy(DlpRule("c", ("credit_card",), min_count=2, where=("attachments",)))
    assert decide(findings, only_attachments)[0].verdict is Verdict.PASS


def test_most_severe_first_and_all_matches_kept():
    p = policy(DlpRule("log", ("credit_card",), action="allow_and_log"),
               DlpRule("q", ("credit_card",), action="quarantine"),
               DlpRule("block", ("credit_card",), action="block"),
               DlpRule("health", ("icd10_code",), action="block"))
    results = decide(inspect(CARD_MESSAGE, p), p)
    assert [r.reason for r in results] == ["dlp.block", "dlp.q", "dlp.log"]
    assert strongest(results) is Verdict.REJECT


def test_clean_message_passes():
    p = policy(DlpRule("cards", ("credit_card",)))
    [result] = decide(inspect(text_message("Your order 4111111111111112 shipped."), p), p)
    assert (result.verdict, result.reason, dict(result.details)) == (Verdict.PASS, "dlp.pass", {})


def test_rules_on_signals():
    from bench.dlp_corpus import zip_bomb
    p = policy(DlpRule("unscannable", ("archive_limit", "unreadable_attachment"),
                       action="quarantine"))
    message = with_attachment("bomb.zip", zip_bomb(80 * 1024 * 1024), "application/zip")
    [result] = decide(inspect(message, p), p)
    assert result.verdict is Verdict.QUARANTINE and result.details["findings"] == \
        "archive_limit:attachments:1"


def test_only_the_rules_detectors_run():
    p = policy(DlpRule("ssn", ("us_ssn",)))
    assert inspect(CARD_MESSAGE, p).items == ()
    assert inspect(CARD_MESSAGE, DlpPolicy()).items == ()


def test_result_records_round_trip():
    from postwarden.verdicts import StageResult
    p = policy(DlpRule("cards", ("credit_card",), mode="log_only"))
    for result in decide(inspect(CARD_MESSAGE, p), p):
        assert StageResult.from_record(result.to_record()).details == result.details
