"""Interop: our RSA signatures verify with Mail::DKIM (Perl), a verifier that shares no code with dkimpy.

Debian 12's Mail::DKIM has no Ed25519, so this covers rsa-sha256; Ed25519
uses the same canonicalisation and is verified with dkimpy elsewhere.
Needs `perl` and Debian's libmail-dkim-perl; skipped (with the reason) without them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agents.sign import dkim as ours
from tests.agents.sign.test_dkim import CANONICALIZATIONS, MESSAGES

SCRIPT = Path(__file__).with_name("mail_dkim_verify.pl")


def _have_mail_dkim() -> bool:
    return shutil.which("perl") is not None and subprocess.run(
        ["perl", "-MMail::DKIM::Verifier", "-e", "1"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _have_mail_dkim(),
                                reason="needs perl and libmail-dkim-perl (apt-get install libmail-dkim-perl)")


@pytest.fixture
def zone_file(tmp_path, rsa_key):
    path = tmp_path / "zone.txt"
    path.write_bytes(b"rsa1._domainkey.acme.example\t" + ours.dns_txt_record(rsa_key) + b"\n")
    return path


def _mail_dkim(messages: dict[str, bytes], zone_file: Path, directory: Path) -> dict[str, list[str]]:
    """First signature's [result, domain, selector, detail] for each message, in one perl run."""
    paths = []
    for name, message in messages.items():
        path = directory / f"{name}.eml"
        path.write_bytes(message)
        paths.append(str(path))
    out = subprocess.run(["perl", str(SCRIPT), str(zone_file), *paths], capture_output=True,
                         check=True, timeout=120).stdout.decode()
    results: dict[str, list[str]] = {}
    for line in out.splitlines():
        path, *fields = line.split("\t")
        results.setdefault(Path(path).stem, fields)
    return results


@pytest.mark.parametrize("canonicalization", CANONICALIZATIONS, ids=lambda c: b"/".join(c).decode())
def test_rsa_signatures_verify_with_mail_dkim(canonicalization, rsa_key, zone_file, tmp_path):
    key = ours.SigningKey("acme.example", "rsa1", rsa_key, "rsa-sha256")
    messages = {}
    for name, content in sorted(MESSAGES.items()):
        if name == "dkim_signed_already":
            continue                         # its fake app signature fails, by design
        signed = ours.sign_message(content, [key], canonicalization=canonicalization)
        messages[name] = signed
        messages[name + ".tampered"] = signed.replace(b"From: ", b"From: x", 1)
    results = _mail_dkim(messages, zone_file, tmp_path)
    assert set(results) == set(messages)
    for name in messages:
        if name.endswith(".tampered"):
            assert results[name][0] == "fail", (name, results[name])
        else:
            assert results[name][:3] == ["pass", "acme.example", "rsa1"], (name, results[name])
