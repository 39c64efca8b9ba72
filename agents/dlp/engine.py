"""One pass over decoded text for every detector, then validation of candidates.

`Scanner(detector_names)` compiles every candidate pattern and every context
word into one Hyperscan database (the `hyperscan` wheel); `scan(text)` makes a
single pass over the UTF-8 bytes and returns the validated `Match`es.  When
Hyperscan is not importable the same patterns run through Python's `re`
(one search per detector), with the same candidate semantics: at each start
the longest candidate whose neighbours are not word characters; a failed
candidate does not hide a later one that starts inside it.

A `Match` carries the canonical value for counting; callers must never store
it (findings keep masked samples only).

Reads: normalised message text (untrusted).  Holds nothing between calls but
the compiled patterns.  A Scanner is not thread-safe (Hyperscan scratch space):
`inspection.scanner_for` keeps one per thread.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable

from agents.dlp.detectors import (CONTEXT_AFTER, CONTEXT_BEFORE, CONTEXT_WORDS, TABLE,
                                  Detector, context_pattern)

try:  # pragma: no cover - which branch runs depends on the machine
    import hyperscan
except ImportError:  # pragma: no cover
    hyperscan = None


@dataclass(frozen=True)
class Match:
    type: str
    value: str          # canonical form: count with it, never store it
    start: int          # byte offsets in the UTF-8 text
    end: int
    context: int = -1   # bytes to the context word that admitted it; -1: none needed


_SEPARATORS = b" .-/"


class Scanner:
    """Compiled patterns for a set of detectors; `scan(text)` is one pass."""

    def __init__(self, detector_names: Iterable[str], *, engine: str = "auto"):
        self.detectors: list[Detector] = [TABLE[n] for n in TABLE if n in set(detector_names)]
        self.contexts: list[tuple[str, bytes]] = []
        for detector in self.detectors:
            for word in CONTEXT_WORDS.get(detector.name, ()):
                self.contexts.append((detector.name, context_pattern(word)))
        self._followers = [re.compile(d.not_followed_by) if d.not_followed_by else None
                           for d in self.detectors]
        self._left = [frozenset(_expand(d.left_extended[0])) if d.left_extended else None
                      for d in self.detectors]
        self.trail = [frozenset(bytes([b]) for b in _expand(d.trail or d.boundary))
                      for d in self.detectors]
        if engine == "auto":
            engine = "hyperscan" if hyperscan is not None else "re"
        self.engine = engine
        if not self.detectors:
            self._db = None
        elif engine == "hyperscan":
            self._db = self._compile_hyperscan()
        else:
            self._compile_re()

    # -- compiling ---------------------------------------------------------
    def _compile_hyperscan(self):
        expressions, ids, flags = [], [], []
        for index, detector in enumerate(self.detectors):
            caseless = hyperscan.HS_FLAG_CASELESS if detector.caseless else 0
            if detector.left_extended:
                left, rest = detector.left_extended
                expressions.append(b"[" + left + b"](?:" + rest + b")")
                ids.append(index)
                flags.append(caseless)
                continue
            # The leading class consumes the neighbour (see _candidates_hyperscan).
            expressions.append(b"[^" + detector.boundary + b"](?:" + detector.pattern + b")")
            ids.append(index)
            flags.append(hyperscan.HS_FLAG_SOM_LEFTMOST | caseless)
        base = len(self.detectors)
        for index, (_, pattern) in enumerate(self.contexts):
            expressions.append(pattern)
            ids.append(base + index)
            flags.append(hyperscan.HS_FLAG_SOM_LEFTMOST | hyperscan.HS_FLAG_CASELESS)
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=flags)
        return db

    def _compile_re(self) -> None:
        self._patterns = []
        for detector in self.detectors:
            lead, trail = detector.boundary, detector.trail or detector.boundary
            self._patterns.append(re.compile(
                b"(?<![" + lead + b"])(?:" + detector.pattern + b")(?![" + trail + b"])",
                re.IGNORECASE if detector.caseless else 0))
        by_detector: dict[str, list[bytes]] = {}
        for name, pattern in self.contexts:
            by_detector.setdefault(name, []).append(pattern)
        self._context_res = {name: re.compile(b"|".join(patterns), re.IGNORECASE)
                             for name, patterns in by_detector.items()}

    # -- scanning ----------------------------------------------------------
    def scan(self, data: bytes) -> list[Match]:
        """Every validated match in `data` (UTF-8 text), in order per detector."""
        if not self.detectors or not data:
            return []
        if self.engine == "hyperscan":
            candidates, contexts = self._candidates_hyperscan(data)
        else:
            candidates, contexts = self._candidates_re(data)
        matches: list[Match] = []
        validated: dict[tuple[str, bytes], str | None] = {}   # the same number, many rows
        for index, detector in enumerate(self.detectors):
            spans = candidates[index]
            if not spans:
                continue
            positions = contexts.get(detector.name, [])
            follower = self._followers[index]
            accepted_end = previous_end = -1
            for start in sorted(spans):
                if start < accepted_end:
                    continue
                end = spans[start]
                if follower is not None and follower.match(data, end):
                    previous_end = end
                    continue
                if detector.context_span == "nearest":
                    window = (max(previous_end, start - CONTEXT_BEFORE), start)
                else:
                    window = (start - CONTEXT_BEFORE, end + CONTEXT_AFTER)
                match = self._validate(detector, data, start, end, positions, window, validated)
                previous_end = end
                if match is not None:
                    matches.append(match)
                    accepted_end = end
        return _settle_shared_spans(matches)

    def _candidates_hyperscan(self, data: bytes):
        hits: list[tuple[int, int, int]] = []

        def on_match(ident, start, end, flags, context):
            hits.append((ident, start, end))

        # A leading newline gives a candidate at offset 0 a neighbour to consume,
        # so every candidate's start is one past its reported start of match.
        self._db.scan(b"\n" + data, match_event_handler=on_match)
        count = len(self.detectors)
        candidates: list[dict[int, int]] = [{} for _ in range(count)]
        contexts: dict[str, list[int]] = {}
        size = len(data)
        for ident, start, end in hits:
            end -= 1
            if ident >= count:
                contexts.setdefault(self.contexts[ident - count][0], []).append(start - 1)
                continue
            if end < size and data[end:end + 1] in self.trail[ident]:
                continue            # runs on into a word: not this end
            extend = self._left[ident]
            if extend is not None:
                start = self._extend_left(data, end, extend)
                if start < 0:
                    continue
            spans = candidates[ident]
            if spans.get(start, -1) < end:
                spans[start] = end
        for positions in contexts.values():
            positions.sort()
        return candidates, contexts

    @staticmethod
    def _extend_left(data: bytes, end: int, chars: frozenset[int]) -> int:
        """Start of a left-extended candidate ending at `end` (the first byte of its
        pattern, e.g. "@", is the last one before `end` outside the class); -1 if none."""
        anchor = end - 1
        while anchor >= 0 and data[anchor] in chars:
            anchor -= 1
        start = anchor
        while start > 0 and data[start - 1] in chars and anchor - start < 64:
            start -= 1
        if start == anchor or (start > 0 and data[start - 1] in chars):
            return -1       # nothing before the anchor, or longer than the pattern allows
        return start

    def _candidates_re(self, data: bytes):
        candidates: list[dict[int, int]] = []
        for pattern in self._patterns:
            spans: dict[int, int] = {}
            pos = 0
            while True:
                m = pattern.search(data, pos)
                if m is None:
                    break
                if m.end() > m.start():
                    spans[m.start()] = m.end()
                pos = m.start() + 1
            candidates.append(spans)
        contexts = {name: [m.start() for m in regex.finditer(data)]
                    for name, regex in self._context_res.items()}
        return candidates, contexts

    def _validate(self, detector: Detector, data: bytes, start: int, end: int,
                  context_positions: list[int], window: tuple[int, int],
                  validated: dict[tuple[str, bytes], str | None]) -> Match | None:
        if not detector.embedded_ok and _embedded(data, start, end):
            return None
        candidate = data[start:end]
        distance = -1
        if detector.context != "never" and detector.needs_context(candidate.decode("ascii", "replace")):
            distance = _distance(context_positions, *window, start, end)
            if distance < 0:
                return None
        key = (detector.name, candidate)
        if key in validated:
            value = validated[key]
        else:
            try:
                value = detector.validate(candidate.decode("utf-8", "replace"))
            except Exception:  # a validator must never take the stage down
                value = None
            validated[key] = value
        if value is None:
            return None
        return Match(detector.name, value, start, end, distance)


def _expand(char_class: bytes) -> bytes:
    """Every byte a regex character-class body such as rb'0-9A-Za-z' stands for."""
    pattern = re.compile(b"[" + char_class + b"]")
    return bytes(b for b in range(256) if pattern.fullmatch(bytes([b])))


def _embedded(data: bytes, start: int, end: int) -> bool:
    """True if digits continue past a separator on either side (part of a longer number)."""
    if start >= 2 and data[start - 1] in _SEPARATORS[1:] and data[start - 2:start - 1].isdigit():
        return True
    if end + 1 < len(data) and data[end] in _SEPARATORS[1:] and data[end + 1:end + 2].isdigit():
        return True
    return False


def _distance(positions: list[int], low: int, high: int, start: int, end: int) -> int:
    """Bytes from the candidate to the nearest context word in [low, high]; -1 if none."""
    i = bisect.bisect_left(positions, low)
    best = -1
    while i < len(positions) and positions[i] <= high:
        p = positions[i]
        gap = start - p if p < start else max(p - end, 0) + CONTEXT_BEFORE  # prefer labels before
        if best < 0 or gap < best:
            best = gap
        i += 1
    return best


def _settle_shared_spans(matches: list[Match]) -> list[Match]:
    """One span, several context-admitted readings (a 9-digit number near both "SSN"
    and "routing"): keep the reading whose context word is nearest."""
    by_span: dict[tuple[int, int], list[Match]] = {}
    for match in matches:
        by_span.setdefault((match.start, match.end), []).append(match)
    if all(len(group) == 1 for group in by_span.values()):
        return matches
    kept: list[Match] = []
    for group in by_span.values():
        if len(group) > 1 and all(m.context >= 0 for m in group):
            nearest = min(m.context for m in group)
            group = [m for m in group if m.context == nearest]
        kept.extend(group)
    return kept
