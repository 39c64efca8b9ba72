"""Golden .eml: the sign stage's transformation of a submission, byte for byte.

Ed25519 signatures are deterministic, so with a fixed key and t= the signed
message is fixed.  The input is LF-only with folded and whitespace-padded
headers and an 8-bit body; the output is CRLF with the signature on top.
To regenerate after an intended change: POSTWARDEN_REGENERATE_GOLDEN=1 pytest
this file, then review the diff of tests/golden/sign/.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from agents.sign import stage
from postwarden.config.model import DkimKey, Domain, Tenant
from postwarden.verdicts import Verdict
from tests.agents.sign.helpers import FakeDns, pem

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "sign"
TIMESTAMP = 1_796_371_200       # 2026-12-04T00:00:00Z
# a test-only key derived from a public string: deterministic signatures
KEY = ed25519.Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"postwarden golden sign test key").digest())
TENANT = Tenant(id="acme", name="Acme", apps=(),
                domains=(Domain("acme.example", (DkimKey("golden", "ed25519-sha256", pem(KEY)),)),))


@pytest.mark.parametrize("name", ["invoice"])
def test_signed_message_equals_golden(name):
    source = (GOLDEN / f"{name}.eml").read_bytes()
    assert b"\r" not in source          # the golden input is LF-only on purpose
    signed, result = stage.sign_submission(source, TENANT, timestamp=TIMESTAMP)
    assert result.verdict is Verdict.PASS
    expected_path = GOLDEN / f"{name}.signed.eml"
    if os.environ.get("POSTWARDEN_REGENERATE_GOLDEN"):
        expected_path.write_bytes(signed)
        pytest.skip("regenerated")
    assert signed == expected_path.read_bytes()


def test_golden_output_verifies_with_dkimpy():
    zone = FakeDns()
    zone.publish("golden", "acme.example", KEY)
    signed = (GOLDEN / "invoice.signed.eml").read_bytes()
    assert dkimpy.verify(signed, dnsfunc=zone)
    assert not dkimpy.verify(signed.replace(b"129,00", b"929,00"), dnsfunc=zone)
