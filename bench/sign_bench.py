"""DKIM signing speed: agents.sign.dkim (cryptography/OpenSSL) against dkimpy.sign.

Signs the same 2 KB transactional message with RSA-2048 and with Ed25519,
checks once that every signature verifies with dkimpy (fake DNS), then prints
signatures per second and milliseconds per signature for each.  Also times
the sign stage's dual RSA + Ed25519 signing of one message.

Run: .venv/bin/python bench/sign_bench.py [--seconds 1.0]
Reads and writes nothing; the keys are generated in memory for the run.
"""

from __future__ import annotations

import argparse
import base64
import time

import dkim as dkimpy
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from agents.sign import dkim as ours

HEAD = (b"From: Acme Billing <billing@acme.example>\r\n"
        b"To: Bob Example <bob@example.net>\r\n"
        b"Subject: Your invoice 42 is ready\r\n"
        b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
        b"Message-ID: <inv-42@acme.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n")
LINE = b"Your invoice 42 for 129,00 EUR is ready; pay by Friday, thank you.  \r\n"
MESSAGE = HEAD + LINE * ((2048 - len(HEAD)) // len(LINE) + 1)


def _rate(sign, seconds: float) -> tuple[int, float]:
    """(signatures made, seconds taken), running `sign` for about `seconds`."""
    sign()                                            # warm up
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(10):
            sign()
        count += 10
        now = time.perf_counter()
        if now >= deadline:
            return count, now - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_pem = rsa_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
    ed_seed = base64.b64encode(ed_key.private_bytes(serialization.Encoding.Raw,
                                                    serialization.PrivateFormat.Raw,
                                                    serialization.NoEncryption()))
    zone = {b"rsa1._domainkey.acme.example.": ours.dns_txt_record(rsa_key),
            b"ed1._domainkey.acme.example.": ours.dns_txt_record(ed_key)}
    dnsfunc = lambda name, timeout=5: zone.get(name)  # noqa: E731

    cases = {
        ("rsa-sha256", "ours"): lambda: ours.sign(
            MESSAGE, domain="acme.example", selector="rsa1", private_key=rsa_key,
            algorithm="rsa-sha256"),
        ("rsa-sha256", "dkimpy"): lambda: dkimpy.sign(
            MESSAGE, b"rsa1", b"acme.example", rsa_pem, canonicalize=(b"relaxed", b"relaxed")),
        ("ed25519-sha256", "ours"): lambda: ours.sign(
            MESSAGE, domain="acme.example", selector="ed1", private_key=ed_key,
            algorithm="ed25519-sha256"),
        ("ed25519-sha256", "dkimpy"): lambda: dkimpy.sign(
            MESSAGE, b"ed1", b"acme.example", ed_seed, canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=b"ed25519-sha256"),
    }
    dual_keys = [ours.SigningKey("acme.example", "rsa1", rsa_key, "rsa-sha256"),
                 ours.SigningKey("acme.example", "ed1", ed_key, "ed25519-sha256")]

    for (algorithm, who), sign in cases.items():   # every signature must verify before it counts
        if not dkimpy.verify(sign() + MESSAGE, dnsfunc=dnsfunc):
            raise SystemExit(f"{who} {algorithm}: signature does not verify")
    dual = ours.sign_message(MESSAGE, dual_keys)
    if not all(dkimpy.DKIM(dual).verify(idx=i, dnsfunc=dnsfunc) for i in (0, 1)):
        raise SystemExit("dual signature does not verify")

    print(f"message: {len(MESSAGE)} bytes, relaxed/relaxed, {args.seconds:.1f} s per case")
    print(f"{'algorithm':<16}{'signer':<10}{'sig/s':>10}{'ms/sig':>10}")
    per_sig = {}
    for (algorithm, who), sign in cases.items():
        count, taken = _rate(sign, args.seconds)
        per_sig[(algorithm, who)] = taken / count * 1000
        print(f"{algorithm:<16}{who:<10}{count / taken:>10.0f}{taken / count * 1000:>10.3f}")
    count, taken = _rate(lambda: ours.sign_message(MESSAGE, dual_keys), args.seconds)
    print(f"{'rsa+ed25519':<16}{'ours':<10}{count / taken:>10.0f}{taken / count * 1000:>10.3f}"
          "   (sign_message, both signatures, whole message)")
    for algorithm in ("rsa-sha256", "ed25519-sha256"):
        speedup = per_sig[(algorithm, "dkimpy")] / per_sig[(algorithm, "ours")]
        print(f"{algorithm}: ours is {speedup:.1f}x faster than dkimpy")


if __name__ == "__main__":
    main()
