"""Typed reading of untrusted config documents, collecting every problem.

A `Section` walks one mapping of a parsed YAML/JSON document and remembers
where it is (``tenants[acme].apps[billing].allowed_ips``) and which tenant it
belongs to.  Every getter records a `Problem` instead of raising, so a whole
document is checked in one pass and the operator sees every mistake at once;
`Problems.raise_if_any()` turns them into one `ConfigError`.

Reads: a plain dict (already parsed).  Holds no secrets itself, but values it
returns may be secret (passwords, private keys): never put a *value* in a
`Problem`, only its type, unless the caller says the value is safe to show.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, TypeVar

T = TypeVar("T")

MISSING: Any = object()


@dataclass(frozen=True)
class Problem:
    path: str
    expected: str
    got: str = ""
    tenant: str | None = None

    def __str__(self) -> str:
        who = f"tenant {self.tenant}: " if self.tenant else ""
        got = f" (got {self.got})" if self.got else ""
        return f"{who}{self.path}: expected {self.expected}{got}"


class ConfigError(ValueError):
    """The config document is invalid; `problems` lists every mistake found."""

    def __init__(self, problems: Iterable[Problem], source: str = "config"):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass
class Problems:
    source: str = "config"
    items: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.items.append(problem)

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items, self.source)


def describe(value: Any) -> str:
    """A safe description of a value's type (never the value: it may be secret)."""
    if value is None:
        return "nothing"
    return type(value).__name__


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: Any) -> float | None:
    """'90s', '5m', '1h', '5d' or a bare number of seconds -> seconds; None if invalid."""
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text) if text >= 0 else None
    if not isinstance(text, str):
        return None
    match = _DURATION.match(text)
    if not match:
        return None
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_hostport(text: Any, default_port: int | None = None) -> tuple[str, int] | None:
    """'host:port', '[v6]:port' or (with a default) 'host' -> (host, port); None if invalid."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not port_text:
        if default_port is None:
            return None
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return host, int(port_text)


class Section:
    """One mapping in the document, read with types checked and unknown keys refused."""

    def __init__(self, data: Any, path: str, problems: Problems, tenant: str | None = None):
        self.path = path
        self.problems = problems
        self.tenant = tenant
        self.seen: set[str] = set()
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.fail("", "a mapping", describe(data))
            data = {}
        self.data: Mapping[str, Any] = data

    # -- plumbing -----------------------------------------------------------
    def where(self, key: str) -> str:
        if not key:
            return self.path or "(top level)"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, expected: str, got: str = "") -> None:
        self.problems.add(Problem(self.where(key), expected, got, self.tenant))

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str, default: Any = MISSING) -> Any:
        self.seen.add(key)
        if key not in self.data or self.data[key] is None:
            return default
        return self.data[key]

    def _typed(self, key: str, default: Any, expected: str, check: Callable[[Any], Any]) -> Any:
        value = self.raw(key)
        if value is MISSING:
            if default is MISSING:
                self.fail(key, expected, "nothing: the key is required")
                return None
            return default
        result = check(value)
        if result is MISSING:
            self.fail(key, expected, describe(value))
            return None if default is MISSING else default
        return result

    def done(self) -> None:
        """Flag every key that no getter asked for: a typo must not pass silently."""
        for key in self.data:
            if key not in self.seen:
                known = ", ".join(sorted(self.seen)) or "none"
                self.fail(str(key), f"a known key (one of: {known})", "an unknown key")

    # -- scalars ------------------------------------------------------------
    def str(self, key: str, default: Any = MISSING, *, pattern: str | None = None,
            expected: str = "a string") -> str:
        def check(v: Any) -> Any:
            if not isinstance(v, str) or not v.strip():
                return MISSING
            if pattern and not re.fullmatch(pattern, v):
                return MISSING
            return v
        return self._typed(key, default, expected, check)

    def int(self, key: str, default: Any = MISSING, *, minimum: int | None = None,
            maximum: int | None = None) -> int:
        bounds = ""
        if minimum is not None and maximum is not None:
            bounds = f" from {minimum} to {maximum}"
        elif minimum is not None:
            bounds = f" of at least {minimum}"

        def check(v: Any) -> Any:
            if isinstance(v, bool) or not isinstance(v, int):
                return MISSING
            if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
                return MISSING
            return v
        return self._typed(key, default, f"a whole number{bounds}", check)

    def number(self, key: str, default: Any = MISSING) -> float:
        def check(v: Any) -> Any:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return MISSING
            return float(v)
        return self._typed(key, default, "a number", check)

    def bool(self, key: str, default: Any = MISSING) -> bool:
        return self._typed(key, default, "true or false",
                           lambda v: v if isinstance(v, bool) else MISSING)

    def choice(self, key: str, choices: Iterable[str], default: Any = MISSING) -> str:
        options = tuple(choices)
        return self._typed(key, default, "one of " + ", ".join(options),
                           lambda v: v if v in options else MISSING)

    def duration(self, key: str, default: Any = MISSING) -> float:
        def check(v: Any) -> Any:
            seconds = parse_duration(v)
            return MISSING if seconds is None else seconds
        return self._typed(key, default, "a duration such as 30s, 5m, 1h or 5d", check)

    def hostport(self, key: str, default: Any = MISSING, *, default_port: int | None = None
                 ) -> tuple[str, int]:
        def check(v: Any) -> Any:
            parsed = parse_hostport(v, default_port)
            return MISSING if parsed is None else parsed
        return self._typed(key, default, "host:port", check)

    def str_list(self, key: str, default: Any = MISSING, *, item: Callable[[str], bool] | None = None,
                 expected: str = "a list of strings") -> tuple[str, ...]:
        def check(v: Any) -> Any:
            if isinstance(v, str):
                v = [v]
            if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
                return MISSING
            if item and not all(item(x) for x in v):
                return MISSING
            return tuple(v)
        return self._typed(key, default, expected, check)

    def networks(self, key: str, default: Any = MISSING) -> tuple:
        def check(v: Any) -> Any:
            if isinstance(v, str):
                v = [v]
            if not isinstance(v, list):
                return MISSING
            try:
                return tuple(ipaddress.ip_network(x, strict=False) for x in v)
            except (TypeError, ValueError):
                return MISSING
        return self._typed(key, default, "a list of IP networks such as 127.0.0.0/8", check)

    # -- nesting ------------------------------------------------------------
    def section(self, key: str, *, required: bool = False) -> "Section":
        value = self.raw(key, None)
        if value is None and required:
            self.fail(key, "a mapping", "nothing: the key is required")
        return Section(value, self.where(key), self.problems, self.tenant)

    def sections(self, key: str, *, label: str = "id", required: bool = False,
                 tenant_label: bool = False) -> list["Section"]:
        """A list of mappings; each child's path names it by its `label` key when present."""
        value = self.raw(key, None)
        if value is None:
            if required:
                self.fail(key, "a list", "nothing: the key is required")
            return []
        if not isinstance(value, list):
            self.fail(key, "a list", describe(value))
            return []
        children = []
        for index, entry in enumerate(value):
            name = entry.get(label) if isinstance(entry, Mapping) else None
            tag = name if isinstance(name, str) and name else str(index)
            tenant = tag if tenant_label else self.tenant
            children.append(Section(entry, f"{self.where(key)}[{tag}]", self.problems, tenant))
        return children


def unique(problems_section: Section, key: str, names: Iterable[str], what: str) -> None:
    """Record a problem for every name that occurs twice."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems_section.fail(key, f"unique {what}s", f"{name!r} twice")
        seen.add(name)
