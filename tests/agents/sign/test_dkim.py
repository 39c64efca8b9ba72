"""agents.sign.dkim: signatures that dkimpy's verifier accepts, and canonicalisation equal to dkimpy's."""

from __future__ import annotations

import random
import re

import dkim as dkimpy
import pytest
from dkim.canonicalization import Relaxed, Simple
from cryptography.hazmat.primitives.asymmetric import ec

from agents.sign import dkim as ours

HEAD = (b"From: Acme Billing <billing@acme.example>\r\n"
        b"To: Bob <bob@example.net>\r\n"
        b"Subject: Your invoice\r\n"
        b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
        b"Message-ID: <inv-1@acme.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n")

MESSAGES = {
    "plain": HEAD + b"\r\nHello Bob,\r\n\r\nyour invoice is attached.\r\n",
    "folded_headers": (b"From: \"Acme\r\n Billing\" <billing@acme.example>\r\n"
                       b"To: bob@example.net,\r\n\tcarol@example.net\r\n"
                       b"Subject: a subject that\r\n   goes on\r\n\t and on\r\n"
                       b"\r\nbody\r\n"),
    "trailing_whitespace": (b"From: billing@acme.example   \r\nSubject:   spaced \t out  \t\r\n"
                            b"To:bob@example.net\r\n\r\nline with spaces   \r\n\tindented\t \r\n"
                            b"  \r\n\r\n \r\n"),
    "lf_only": b"From: billing@acme.example\nTo: bob@example.net\nSubject: lf\n\nline one\nline two\n",
    "mixed_line_ends": b"From: billing@acme.example\r\nSubject: mixed\n\nbare cr\rhere\r\nlf\n",
    "empty_body": b"From: billing@acme.example\r\nTo: bob@example.net\r\nSubject: empty\r\n\r\n",
    "no_body_separator": b"From: billing@acme.example\r\nSubject: no separator\r\n",
    "only_blank_lines": b"From: billing@acme.example\r\nSubject: blanks\r\n\r\n\r\n\r\n\r\n",
    "no_final_newline": b"From: billing@acme.example\r\nSubject: nofinal\r\n\r\nlast line  ",
    "eight_bit": ("From: Zoë <billing@acme.example>\r\nSubject: Grüße\r\n\r\n"
                  "Prix : 12 €, reçu.\r\n日本語のテキスト\r\n").encode("utf-8"),
    "latin1_body": b"From: billing@acme.example\r\nSubject: l1\r\n\r\ncaf\xe9 \xff\xfe\r\n",
    "long_lines": (b"From: billing@acme.example\r\nSubject: " + b"long " * 200 + b"\r\n\r\n"
                   + b"x" * 5000 + b"\r\n" + b"word " * 3000 + b"\r\n"),
    "repeated_fields": (b"Received: from a\r\nReceived: from b\r\nFrom: billing@acme.example\r\n"
                        b"Cc: one@example.net\r\nCc: two@example.net\r\nSubject: two cc\r\n\r\nbody\r\n"),
    "dkim_signed_already": (b"DKIM-Signature: v=1; a=rsa-sha256; d=app.example; s=x; h=from;\r\n"
                            b" bh=abc=; b=def=\r\nFrom: billing@acme.example\r\nSubject: x\r\n\r\nbody\r\n"),
}

CANONICALIZATIONS = [(b"relaxed", b"relaxed"), (b"simple", b"simple"),
                     (b"relaxed", b"simple"), (b"simple", b"relaxed")]


def _sign_and_prepend(content, key, algorithm, selector, **options):
    header = ours.sign(content, domain="acme.example", selector=selector, private_key=key,
                       algorithm=algorithm, timestamp=1_796_400_000, **options)
    return header + ours.crlf(content)


@pytest.mark.parametrize("canonicalization", CANONICALIZATIONS, ids=lambda c: b"/".join(c).decode())
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_rsa_and_ed25519_signatures_verify_with_dkimpy(name, canonicalization, rsa_key, ed_key, dns):
    content = MESSAGES[name]
    for key, algorithm, selector in ((rsa_key, "rsa-sha256", "rsa1"), (ed_key, "ed25519-sha256", "ed1")):
        signed = _sign_and_prepend(content, key, algorithm, selector, canonicalization=canonicalization)
        assert dkimpy.verify(signed, dnsfunc=dns), (name, algorithm)
        # and the signature really covers the body: flip one body byte
        head, _, body = signed.partition(b"\r\n\r\n")
        tampered = head + b"\r\n\r\n" + (body[:-3] + b"Z\r\n" if len(body) > 3 else b"Z\r\n")
        assert not dkimpy.verify(tampered, dnsfunc=dns), (name, algorithm)


def test_sign_message_dual_signs_and_both_verify(rsa_key, ed_key, dns):
    keys = [ours.SigningKey("acme.example", "rsa1", rsa_key, "rsa-sha256"),
            ours.SigningKey("acme.example", "ed1", ed_key, "ed25519-sha256")]
    signed = ours.sign_message(MESSAGES["lf_only"], keys)
    assert signed.count(b"DKIM-Signature:") == 2
    assert b"a=rsa-sha256" in signed.split(b"DKIM-Signature:")[1]
    assert b"a=ed25519-sha256" in signed.split(b"DKIM-Signature:")[2]
    verifier = dkimpy.DKIM(signed)
    assert verifier.verify(idx=0, dnsfunc=dns)
    assert verifier.verify(idx=1, dnsfunc=dns)
    assert set(dns.queries) == {b"rsa1._domainkey.acme.example.", b"ed1._domainkey.acme.example."}


def test_lf_only_input_is_signed_as_crlf(ed_key, dns):
    content = MESSAGES["lf_only"]
    keys = [ours.SigningKey("acme.example", "ed1", ed_key, "ed25519-sha256")]
    signed = ours.sign_message(content, keys)
    assert re.search(rb"(?<!\r)\n", signed) is None
    assert signed.endswith(b"line one\r\nline two\r\n")
    assert dkimpy.verify(signed, dnsfunc=dns)


def test_crlf_matches_aiosmtplib_line_end_normalisation():
    from aiosmtplib.protocol import LINE_ENDINGS_REGEX
    for content in (b"a\nb\rc\r\nd\r\r\ne\n\r", b"x", b"", b"\r", b"\n\n", b"a\r\n"):
        expected = LINE_ENDINGS_REGEX.sub(b"\r\n", content)
        if expected and not expected.endswith(b"\r\n"):
            expected += b"\r\n"
        assert ours.crlf(content) == expected


def test_signature_field_is_folded_and_carries_the_tags(rsa_key):
    header = ours.sign(MESSAGES["plain"], domain="acme.example", selector="rsa1",
                       private_key=rsa_key, algorithm="rsa-sha256", timestamp=1_796_400_000)
    assert header.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.example;")
    assert header.endswith(b"\r\n") and not header.endswith(b"\r\n\r\n")
    lines = header[:-2].split(b"\r\n")
    assert len(lines) > 3
    assert all(len(line) <= 78 for line in lines)
    assert all(line.startswith(b" ") for line in lines[1:])
    tags = dict(t.split(b"=", 1) for t in re.sub(rb"\s+", b"", header.split(b":", 1)[1]).split(b";") if t)
    assert tags[b"t"] == b"1796400000" and tags[b"s"] == b"rsa1"
    # present and oversigned: from/to/subject/date/message-id ... twice; absent but guarded: once
    names = tags[b"h"].split(b":")
    for name in (b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type"):
        assert names.count(name) == 2, name
    for name in (b"reply-to", b"cc", b"sender", b"list-unsubscribe", b"in-reply-to", b"feedback-id"):
        assert names.count(name) == 1, name
    assert b"received" not in names and b"list-id" not in names


def test_repeated_fields_are_each_signed_plus_one(rsa_key):
    header = ours.sign(MESSAGES["repeated_fields"], domain="acme.example", selector="rsa1",
                       private_key=rsa_key, algorithm="rsa-sha256")
    names = re.search(rb"h=([^;]*);", re.sub(rb"\s+", b"", header)).group(1).split(b":")
    assert names.count(b"cc") == 3
    assert b"received" not in names


def test_refuses_headers_that_must_not_be_signed_and_wrong_key_types(rsa_key, ed_key):
    with pytest.raises(ValueError):
        ours.sign(MESSAGES["plain"], domain="acme.example", selector="s", private_key=rsa_key,
                  algorithm="rsa-sha256", headers_to_sign=(b"from", b"received"))
    with pytest.raises(ValueError):
        ours.sign(MESSAGES["plain"], domain="acme.example", selector="s", private_key=rsa_key,
                  algorithm="rsa-sha256", headers_to_sign=(b"subject",))
    with pytest.raises(TypeError):
        ours.sign(MESSAGES["plain"], domain="acme.example", selector="s", private_key=ed_key,
                  algorithm="rsa-sha256")
    with pytest.raises(TypeError):
        ours.sign(MESSAGES["plain"], domain="acme.example", selector="s",
                  private_key=ec.generate_private_key(ec.SECP256R1()), algorithm="ed25519-sha256")
    with pytest.raises(ValueError):
        ours.sign(MESSAGES["plain"], domain="acme.example", selector="s", private_key=ed_key,
                  algorithm="ed25519-sha1")
    with pytest.raises(ValueError):
        ours.sign(MESSAGES["plain"], domain="acme.example", selector="s", private_key=ed_key,
                  algorithm="ed25519-sha256", canonicalization=(b"relaxed", b"nowsp"))


@pytest.mark.parametrize("content", [
    b" starts with a continuation\r\nFrom: a@acme.example\r\n\r\nbody\r\n",
    b"From: a@acme.example\r\nthis line has no colon\r\n\r\nbody\r\n",
    b"From: a@acme.example\r\n: empty name\r\n\r\nbody\r\n",
    b"From: a@acme.example\r\nSub ject: space in name\r\n\r\nbody\r\n",
])
def test_malformed_header_blocks_raise_message_format_error(content, ed_key):
    with pytest.raises(ours.MessageFormatError):
        ours.sign(content, domain="acme.example", selector="ed1", private_key=ed_key,
                  algorithm="ed25519-sha256")
    with pytest.raises(dkimpy.MessageFormatError if not content.startswith(b" ") else IndexError):
        dkimpy.rfc822_parse(content)   # dkimpy refuses them too


def test_relaxed_tolerates_refolding_but_simple_does_not(rsa_key, dns):
    content = MESSAGES["plain"]
    relaxed = _sign_and_prepend(content, rsa_key, "rsa-sha256", "rsa1")
    simple = _sign_and_prepend(content, rsa_key, "rsa-sha256", "rsa1",
                               canonicalization=(b"simple", b"simple"))
    def refold(m):
        return m.replace(b"Subject: Your invoice", b"Subject:  Your\r\n\tinvoice ")
    assert dkimpy.verify(refold(relaxed), dnsfunc=dns)
    assert not dkimpy.verify(refold(simple), dnsfunc=dns)
    # changing a signed header's words breaks both
    assert not dkimpy.verify(relaxed.replace(b"Your invoice", b"Your invoices"), dnsfunc=dns)


def test_wrong_public_key_fails(rsa_key, ed_key, dns):
    signed = _sign_and_prepend(MESSAGES["plain"], ed_key, "ed25519-sha256", "ed1")
    dns.publish("ed1", "acme.example", __import__("cryptography.hazmat.primitives.asymmetric.ed25519",
                fromlist=["x"]).Ed25519PrivateKey.generate())
    assert not dkimpy.verify(signed, dnsfunc=dns)


# -- canonicalisation equal to dkimpy's -------------------------------------

_PIECES = [b"a", b"word", b" ", b"  ", b"\t", b" \t ", b"\r\n", b"\r\n", b"\n", b"\r", b"\x0b",
           b"\xc3\xa9", b"\xff", b":", b";", b"=", b"b=x"]


def _random_bytes(rng: random.Random, size: int) -> bytes:
    return b"".join(rng.choice(_PIECES) for _ in range(size))


def test_body_canonicalisation_equals_dkimpy_on_random_bodies():
    rng = random.Random(6376)
    for _ in range(3000):
        body = ours.crlf(b"From: a@b\r\n\r\n" + _random_bytes(rng, rng.randrange(0, 40)))
        _, dkimpy_body = dkimpy.rfc822_parse(body)
        mine = ours.parse(body).body
        assert mine == dkimpy_body
        assert ours.canonical_body(mine, b"relaxed") == Relaxed.canonicalize_body(dkimpy_body)
        assert ours.canonical_body(mine, b"simple") == Simple.canonicalize_body(dkimpy_body)


def test_header_parse_and_canonicalisation_equal_dkimpy_on_random_headers():
    rng = random.Random(8463)
    names = [b"From", b"subject", b"X-Thing", b"Content-Type", b"to"]
    for _ in range(2000):
        lines = []
        for _ in range(rng.randrange(1, 6)):
            value = _random_bytes(rng, rng.randrange(0, 12)).replace(b"\r", b"").replace(b"\n", b"")
            field = rng.choice(names) + b":" + value
            for _ in range(rng.randrange(0, 3)):
                field += b"\r\n" + rng.choice([b" ", b"\t", b"  "]) + value
            lines.append(field)
        content = ours.crlf(b"\r\n".join(lines) + b"\r\n\r\nbody\r\n")
        dkimpy_fields, _ = dkimpy.rfc822_parse(content)
        mine = ours.parse(content).fields
        assert [list(f) for f in mine] == dkimpy_fields
        for algorithm, dkimpy_algorithm in ((b"relaxed", Relaxed), (b"simple", Simple)):
            expected = [n + b":" + v for n, v in dkimpy_algorithm.canonicalize_headers(dkimpy_fields)]
            assert [ours.canonical_field(n, v, algorithm) for n, v in mine] == expected


def test_select_fields_equals_dkimpy():
    fields = [(b"From", b"a"), (b"Cc", b"1"), (b"cc", b"2"), (b"Subject", b"s"), (b"CC", b"3")]
    for names in ([b"cc", b"cc", b"cc", b"cc"], [b"from", b"subject", b"to", b"from"], [b"cc", b"from", b"cc"]):
        assert ours.select_fields(fields, names) == dkimpy.select_headers(fields, names)


@pytest.mark.parametrize("header_algorithm", [b"relaxed", b"simple"])
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_header_hash_input_equals_what_dkimpy_hashes_when_verifying(name, header_algorithm, rsa_key):
    canonicalization = (header_algorithm, b"relaxed")
    header = ours.sign(MESSAGES[name], domain="acme.example", selector="rsa1", private_key=rsa_key,
                       algorithm="rsa-sha256", canonicalization=canonicalization)
    signed = header + ours.crlf(MESSAGES[name])
    # ours: what went into the hash, from the emitted field with b= emptied
    message = ours.parse(ours.crlf(MESSAGES[name]))
    names = ours.signed_field_names(message, ours.DEFAULT_HEADERS)
    prefix = re.sub(rb"b=[A-Za-z0-9+/=\r\n ]*\Z", b"b=", header)
    assert prefix.endswith(b"\r\n b=")
    mine = ours.signed_header_data(message, names, prefix, header_algorithm)
    # dkimpy: its verifier's hashing of the same signed message
    verifier = dkimpy.DKIM(signed)
    sig, include_headers, sigheaders = verifier.verify_headerprep()
    assert include_headers == names
    hasher = dkimpy.HashThrough(__import__("hashlib").sha256(), debug=True)
    policy = dkimpy.CanonicalizationPolicy.from_c_value(sig[b"c"])
    dkimpy.hash_headers(hasher, policy, policy.canonicalize_headers(verifier.headers),
                        include_headers, sigheaders[0], sig)
    assert mine == hasher.hashed()
