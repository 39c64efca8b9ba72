"""DLP benchmark: our stage core against Microsoft Presidio on one labelled corpus.

Generates the corpus of `bench/dlp_corpus.py` (English and Japanese
transactional mail, about half with attachments), then in the same run:

1. ours, end to end: `agents.dlp.inspect(raw bytes, all detectors)`, MIME
   parsing and attachment extraction included -> messages/s per core and MB/s
   of decoded text;
2. ours, detectors only, on the text our extractor produced;
3. Presidio's AnalyzerEngine on the same extracted text, with the pattern
   recognizers for the same kinds of data (CREDIT_CARD, US_SSN, IBAN_CODE,
   ABA_ROUTING_NUMBER, UK_NHS, UK_NINO, US_NPI, EMAIL_ADDRESS, DATE_TIME) and a
   no-op NLP engine: spaCy models cannot be downloaded here, so there are no
   tokens or lemmas and Presidio's context enhancer adds nothing; its scores
   are the recognizers' own pattern and checksum scores.

Precision and recall are per (message, detector, canonical value).  Presidio
has no My Number or ICD-10 recognizer (its recall there is 0) and no notion of
a date *of birth* (every DATE_TIME counts as a claim); email addresses count
for both engines only from the bulk threshold up in one message.  All timings
are single-threaded, so per core, and the best of --repeat passes.  Run: `python -m bench.dlp_bench [--count N]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict

from agents.dlp import inspect
from agents.dlp.detectors import validate_date
from agents.dlp.engine import Scanner
from agents.dlp.extract import extract
from agents.dlp.text import normalize
from bench.dlp_corpus import BULK_THRESHOLD, corpus
from postwarden.config.dlp import DETECTORS, LOCATIONS, scan_everything

PRESIDIO_TYPES = {
    "CREDIT_CARD": "credit_card", "US_SSN": "us_ssn", "IBAN_CODE": "iban",
    "ABA_ROUTING_NUMBER": "us_bank_routing", "UK_NHS": "nhs_number", "UK_NINO": "uk_nino",
    "US_NPI": "us_npi", "EMAIL_ADDRESS": "email_address_bulk", "DATE_TIME": "date_of_birth",
}


def canonical(kind: str, raw: str) -> str:
    """The label form of a value either engine reported."""
    text = normalize(raw).strip()
    if kind in ("credit_card", "us_ssn", "us_bank_routing", "jp_my_number", "nhs_number",
                "us_npi"):
        return "".join(c for c in text if c.isdigit())
    if kind in ("iban", "uk_nino"):
        return text.replace(" ", "").upper()
    if kind == "email_address_bulk":
        return text.lower()
    if kind == "date_of_birth":
        return validate_date(text) or text
    return text.upper()


def apply_bulk(found: set[tuple[str, str]]) -> set[tuple[str, str]]:
    emails = {f for f in found if f[0] == "email_address_bulk"}
    return found - emails if len(emails) < BULK_THRESHOLD else found


def score(found: dict[str, set], truth: dict[str, set]) -> dict[str, tuple[int, int, int]]:
    """Per detector (true positives, false positives, false negatives)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for name, labels in truth.items():
        reported = found.get(name, set())
        for kind, _ in reported & labels:
            tally[kind][0] += 1
        for kind, _ in reported - labels:
            tally[kind][1] += 1
        for kind, _ in labels - reported:
            tally[kind][2] += 1
    return {k: tuple(v) for k, v in tally.items()}


def pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def totals(tally: dict[str, tuple[int, int, int]], kinds) -> tuple[int, int, int]:
    tp = sum(tally.get(k, (0, 0, 0))[0] for k in kinds)
    fp = sum(tally.get(k, (0, 0, 0))[1] for k in kinds)
    fn = sum(tally.get(k, (0, 0, 0))[2] for k in kinds)
    return tp, fp, fn


class _NoOpNlpEngine:
    """A Presidio NLP engine that produces no entities, tokens or lemmas."""

    def __new__(cls):
        from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

        class NoOp(NlpEngine):
            def load(self):
                pass

            def is_loaded(self):
                return True

            def process_text(self, text, language):
                return NlpArtifacts(entities=[], tokens=[], tokens_indices=[], lemmas=[],
                                    nlp_engine=self, language=language)

            def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):
                for text in texts:
                    yield text, self.process_text(text, language)

            def is_stopword(self, word, language):
                return False

            def is_punct(self, word, language):
                return False

            def get_supported_entities(self):
                return []

            def get_supported_languages(self):
                return ["en"]

        return NoOp()


def presidio_analyzer():
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import (
        AbaRoutingRecognizer, CreditCardRecognizer, DateRecognizer, EmailRecognizer,
        IbanRecognizer, NhsRecognizer, UkNinoRecognizer, UsNpiRecognizer, UsSsnRecognizer)
    # EmailRecognizer asks tldextract, which would fetch the public suffix list over
    # the network: give it the snapshot the wheel ships instead.
    import types

    import tldextract
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer
    email_recognizer.tldextract = types.SimpleNamespace(
        extract=tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None))
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (CreditCardRecognizer, UsSsnRecognizer, IbanRecognizer,
                       AbaRoutingRecognizer, NhsRecognizer, UkNinoRecognizer, UsNpiRecognizer,
                       EmailRecognizer, DateRecognizer):
        registry.add_recognizer(recognizer())
    return AnalyzerEngine(registry=registry, nlp_engine=_NoOpNlpEngine(),
                          supported_languages=["en"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dlp_bench")
    parser.add_argument("--count", type=int, default=1000, help="messages in the corpus")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the corpus (ours)")
    parser.add_argument("--no-presidio", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    samples = corpus(args.count)
    truth = {s.name: s.labels for s in samples}
    raw_bytes = sum(len(s.content) for s in samples)
    with_attachments = sum(1 for s in samples if s.attachments)
    print(f"corpus: {len(samples)} messages ({with_attachments} with attachments; "
          f"{sum(1 for s in samples if s.language == 'ja')} Japanese), {raw_bytes / 1e6:.2f} MB raw, "
          f"{sum(len(s.labels) for s in samples)} labelled values, "
          f"made in {time.perf_counter() - started:.1f}s")

    policy = scan_everything()
    inspect(samples[0].content, policy)                      # compile once, outside timing
    texts = {}
    for sample in samples:
        extracted = extract(sample.content, policy.limits)
        texts[sample.name] = [normalize(extracted.text(loc)) for loc in LOCATIONS]
    text_bytes = sum(len(t.encode()) for parts in texts.values() for t in parts)
    print(f"decoded text: {text_bytes / 1e6:.2f} MB")

    # 1. ours, end to end.
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for sample in samples:
            inspect(sample.content, policy)
        best = min(best, time.perf_counter() - t0)
    ours_e2e = best

    # 2. ours, detectors only, on the extracted text.
    scanner = Scanner(DETECTORS)
    encoded = {name: [t.encode() for t in parts] for name, parts in texts.items()}
    best = float("inf")
    ours_found: dict[str, set] = {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for name, parts in encoded.items():
            found = set()
            for data in parts:
                found |= apply_bulk({(m.type, m.value) for m in scanner.scan(data)})
            ours_found[name] = found
        best = min(best, time.perf_counter() - t0)
    ours_scan = best
    ours_tally = score(ours_found, truth)

    print()
    print(f"ours end to end (parse+extract+scan): {len(samples) / ours_e2e:8.1f} messages/s per core,"
          f" {text_bytes / 1e6 / ours_e2e:7.2f} MB/s of decoded text  [{ours_scan and scanner.engine}]")
    print(f"ours detectors only (same text):      {len(samples) / ours_scan:8.1f} messages/s per core,"
          f" {text_bytes / 1e6 / ours_scan:7.2f} MB/s")

    presidio_tallies = {}
    if not args.no_presidio:
        try:
            analyzer = presidio_analyzer()
        except ImportError:
            print("presidio-analyzer is not installed (pip install '.[bench]'): baseline skipped")
            analyzer = None
        if analyzer is not None:
            entities = list(PRESIDIO_TYPES)
            analyzer.analyze("warm up 4111 1111 1111 1111", language="en", entities=entities)
            raw_results: dict[str, list[tuple[str, str, float]]] = {}
            presidio_time = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                for name, parts in texts.items():
                    hits = []
                    for text in parts:
                        for r in analyzer.analyze(text, language="en", entities=entities):
                            hits.append((PRESIDIO_TYPES[r.entity_type], text[r.start:r.end],
                                         r.score))
                    raw_results[name] = hits
                presidio_time = min(presidio_time, time.perf_counter() - t0)
            print(f"presidio analyzer (same text):        {len(samples) / presidio_time:8.1f} "
                  f"messages/s per core, {text_bytes / 1e6 / presidio_time:7.2f} MB/s")
            print(f"speed ratio ours/presidio: {presidio_time / ours_scan:.0f}x detectors only, "
                  f"{presidio_time / ours_e2e:.1f}x with our MIME parsing and extraction included")
            # One long document: throughput without per-message overhead.
            document = "\n\n".join(t for parts in texts.values() for t in parts)
            document_bytes = document.encode()
            t0 = time.perf_counter()
            scanner.scan(document_bytes)
            ours_doc = time.perf_counter() - t0
            t0 = time.perf_counter()
            analyzer.analyze(document, language="en", entities=entities)
            presidio_doc = time.perf_counter() - t0
            print(f"one {len(document_bytes) / 1e6:.2f} MB document of the corpus text: ours {len(document_bytes) / 1e6 / ours_doc:.1f} MB/s,"
                  f" presidio {len(document_bytes) / 1e6 / presidio_doc:.2f} MB/s, "
                  f"ratio {presidio_doc / ours_doc:.0f}x")
            # Mostly clean text, as most mail is: candidates are rare.
            from bench.dlp_corpus import _FILLER_EN, _FILLER_JA
            clean = ((_FILLER_EN + "Order 12345 shipped on 2026-01-05. " + _FILLER_JA + "\n")
                     * 6000)
            clean_bytes = clean.encode()
            t0 = time.perf_counter()
            scanner.scan(clean_bytes)
            ours_clean = time.perf_counter() - t0
            t0 = time.perf_counter()
            analyzer.analyze(clean, language="en", entities=entities)
            presidio_clean = time.perf_counter() - t0
            print(f"one {len(clean_bytes) / 1e6:.2f} MB mostly clean document: ours "
                  f"{len(clean_bytes) / 1e6 / ours_clean:.0f} MB/s, presidio "
                  f"{len(clean_bytes) / 1e6 / presidio_clean:.2f} MB/s, "
                  f"ratio {presidio_clean / ours_clean:.0f}x")
            for threshold in (0.0, 0.5):
                found = {name: apply_bulk({(k, canonical(k, v)) for k, v, s in hits if s >= threshold})
                         for name, hits in raw_results.items()}
                presidio_tallies[threshold] = score(found, truth)

    print()
    header = f"{'detector':20} {'labels':>6} | {'ours P':>7} {'ours R':>7}"
    for threshold in presidio_tallies:
        header += f" | {'pres≥' + format(threshold, '.1f') + ' P':>11} {'R':>6}"
    print(header)
    label_counts = Counter(kind for labels in truth.values() for kind, _ in labels)
    for kind in DETECTORS:
        p, r = pr(*ours_tally.get(kind, (0, 0, 0)))
        line = f"{kind:20} {label_counts[kind]:6d} | {p:7.3f} {r:7.3f}"
        for tally in presidio_tallies.values():
            pp, rr = pr(*tally.get(kind, (0, 0, 0)))
            line += f" | {pp:11.3f} {rr:6.3f}"
        print(line)
    common = [PRESIDIO_TYPES[k] for k in PRESIDIO_TYPES if PRESIDIO_TYPES[k] != "date_of_birth"]
    for title, kinds in (("all detectors", DETECTORS), ("types both cover*", common)):
        p, r = pr(*totals(ours_tally, kinds))
        line = f"{title:20} {sum(label_counts[k] for k in kinds):6d} | {p:7.3f} {r:7.3f}"
        for tally in presidio_tallies.values():
            pp, rr = pr(*totals(tally, kinds))
            line += f" | {pp:11.3f} {rr:6.3f}"
        print(line)
    print("* types both cover: all but jp_my_number, icd10_code (Presidio has no recognizer) and"
          " date_of_birth (Presidio finds dates, not dates of birth)")
    print(f"\ntotal run time {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
