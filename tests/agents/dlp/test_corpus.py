"""The benchmark's labelled corpus as a regression test: accuracy, and both engines agree."""

import pytest

from agents.dlp.engine import Scanner
from agents.dlp.extract import extract
from agents.dlp.text import normalize
from bench.dlp_bench import apply_bulk, pr, score, totals
from bench.dlp_corpus import corpus
from postwarden.config.dlp import DETECTORS, LOCATIONS


@pytest.fixture(scope="module")
def texts():
    samples = corpus(240, seed=11)
    return samples, {s.name: [normalize(extract(s.content).text(loc)).encode()
                              for loc in LOCATIONS] for s in samples}


def test_precision_and_recall_on_the_corpus(texts):
    samples, by_name = texts
    scanner = Scanner(DETECTORS)
    found = {name: set().union(*(apply_bulk({(m.type, m.value) for m in scanner.scan(t)})
                                 for t in parts)) for name, parts in by_name.items()}
    tally = score(found, {s.name: s.labels for s in samples})
    precision, recall = pr(*totals(tally, DETECTORS))
    assert recall >= 0.99 and precision >= 0.95, tally
    for kind in DETECTORS:
        assert tally.get(kind, (0, 0, 0))[0] > 0, f"no true positive for {kind}"


def test_hyperscan_and_re_engines_agree(texts):
    _, by_name = texts
    fast, plain = Scanner(DETECTORS, engine="hyperscan"), Scanner(DETECTORS, engine="re")
    for name, parts in by_name.items():
        for data in parts:
            assert sorted((m.type, m.value, m.start, m.end) for m in fast.scan(data)) == \
                sorted((m.type, m.value, m.start, m.end) for m in plain.scan(data)), name
