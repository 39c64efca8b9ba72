"""`postwarden dlp scan`: JSON lines of findings, optionally under a tenant's rules."""

import json
from pathlib import Path

import yaml

from agents.dlp.cli import main

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "dlp"


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_scan_prints_one_json_line_per_file(capsys):
    files = [str(GOLDEN / "card_html_qp.eml"), str(GOLDEN / "clean_shipping.eml")]
    assert main(["scan", *files]) == 0
    out = lines(capsys)
    assert out == [
        {"file": files[0], "findings": [{"type": "credit_card", "count": 1, "location": "body"}]},
        {"file": files[1], "findings": []},
    ]


def test_accepts_a_leading_dlp_word(capsys):
    assert main(["dlp", "scan", str(GOLDEN / "card_html_qp.eml")]) == 0
    assert lines(capsys)[0]["findings"][0]["type"] == "credit_card"


def test_missing_file_exit_1(capsys, tmp_path):
    assert main(["scan", str(tmp_path / "nope.eml")]) == 1
    assert "error" in lines(capsys)[0]


def _config(tmp_path, rules) -> Path:
    path = tmp_path / "postwarden.yaml"
    path.write_text(yaml.safe_dump({"tenants": [
        {"id": "acme", "domains": [{"name": "acme.example"}], "dlp": {"rules": rules}}]}))
    return path


def test_tenant_rules_apply(capsys, tmp_path):
    config = _config(tmp_path, [
        {"name": "cards", "detectors": ["credit_card"], "action": "block"},
        {"name": "health", "detectors": ["icd10_code", "us_npi"], "action": "quarantine",
         "mode": "log_only"}])
    files = [str(GOLDEN / "card_html_qp.eml"), str(GOLDEN / "forward_and_documents.eml")]
    assert main(["scan", *files, "--config", str(config), "--tenant", "acme"]) == 0
    first, second = lines(capsys)
    assert [r["reason"] for r in first["results"]] == ["dlp.cards"]
    assert first["results"][0]["verdict"] == "reject"
    assert {f["type"] for f in second["findings"]} == {"credit_card", "icd10_code", "us_npi"}
    assert [(r["verdict"], r["reason"]) for r in second["results"]] == \
        [("reject", "dlp.cards"), ("pass", "dlp.health")]
    assert second["results"][1]["details"]["would"] == "quarantine"


def test_bad_config_or_tenant_exit_2(capsys, tmp_path):
    config = _config(tmp_path, [{"name": "x", "detectors": ["nope"], "action": "block"}])
    assert main(["scan", str(GOLDEN / "clean_shipping.eml"), "--config", str(config),
                 "--tenant", "acme"]) == 2
    assert "tenants[acme].dlp.rules[x].detectors" in capsys.readouterr().err
    good = _config(tmp_path, [])
    assert main(["scan", str(GOLDEN / "clean_shipping.eml"), "--config", str(good),
                 "--tenant", "other"]) == 2
    assert main(["scan", str(GOLDEN / "clean_shipping.eml"), "--tenant", "acme"]) == 2
    assert main([]) == 2
