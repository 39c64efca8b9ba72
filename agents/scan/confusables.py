"""Look-alike text: UTS #39 skeletons, IDNA/punycode decoding and edit distance.

`skeleton(text)` maps every character to its confusable prototype (UTS #39
section 4: NFD, map, NFD) so that "аcme" (Cyrillic а), "acrne" and "acme"
compare equal.  `domain_skeleton` also case-folds and decodes punycode
labels.  `edit_distance` is the optimal string alignment (Damerau-Levenshtein)
distance with an upper bound, for typo-squats such as "acme-exmaple".

Reads: untrusted strings (display names, domains).  Pure; holds no secrets.
"""

from __future__ import annotations

import functools
import unicodedata

from agents.scan._confusables_data import DATA


@functools.cache
def _prototypes() -> dict[int, str]:
    table: dict[int, str] = {}
    for line in DATA.splitlines():
        if not line:
            continue
        source, _, target = line.partition(":")
        table[int(source, 16)] = "".join(chr(int(cp, 16)) for cp in target.split())
    return table


def skeleton(text: str) -> str:
    """The UTS #39 skeleton of `text` (case is kept, as the standard says)."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).translate(_prototypes()))


def fold(text: str) -> str:
    """Skeleton with case and compatibility forms folded away: for comparing, never for showing."""
    folded = skeleton(unicodedata.normalize("NFKC", text).casefold()).casefold()
    return skeleton(folded).casefold()


def decode_domain(domain: str) -> str:
    """A domain in Unicode: xn-- labels decoded where valid, lower-cased, no trailing dot."""
    labels = []
    for label in domain.strip().rstrip(".").split("."):
        if label.lower().startswith("xn--"):
            try:
                label = label[4:].encode("ascii").decode("punycode")
            except (UnicodeError, ValueError):
                pass
        labels.append(label.lower())
    return ".".join(labels)


def domain_skeleton(domain: str) -> str:
    return fold(decode_domain(domain))


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal string alignment distance, or `limit + 1` once it is surely above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)
