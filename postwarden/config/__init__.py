"""Loading config files and turning them into the shared document on the config topic.

A config file holds two kinds of settings:

* node settings (`kafka`, `ingress`, `state_dir`) belong to the machine that
  reads the file and never travel;
* shared settings (tenants, routes, scanners, dns, ...) are validated as a
  whole by `postwarden apply` and published on the compacted config topic,
  which every component materialises.

Files named in the shared part (DKIM private keys, S/MIME certificates) are
read and inlined, so a component on another machine needs only the topic;
secrets in it (private keys, smart-host passwords) are sealed under the master
key before they leave this process (`seal_secrets`) and opened on arrival.

Reads: YAML files (operator-written, so validated but trusted not to be
hostile) and config topic documents.  Holds secrets: DKIM keys, passwords.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

from postwarden.config.model import Config, parse
from postwarden.config.reader import ConfigError, Problem

NODE_KEYS = ("kafka", "ingress", "state_dir")
SECRET_KEYS = ("key_pem", "password")
SEALED = "$sealed"


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError([Problem(str(path), "a readable config file", error.strerror or "unreadable")],
                          str(path)) from None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "the file"
        raise ConfigError([Problem(where, "valid YAML", str(getattr(error, "problem", error)))],
                          str(path)) from None
    if not isinstance(document, dict):
        raise ConfigError([Problem("(top level)", "a mapping", type(document).__name__)], str(path))
    return document


def _read_file(base: Path, name: Any, where: str, tenant: str, problems: list[Problem]) -> str | None:
    if not isinstance(name, str):
        problems.append(Problem(where, "a file path", type(name).__name__, tenant))
        return None
    if name.lstrip().startswith("-----BEGIN"):
        return name
    path = (base / name).expanduser()
    try:
        return path.read_text()
    except OSError as error:
        problems.append(Problem(where, "a readable file", f"{path}: {error.strerror}", tenant))
        return None


def inline_files(document: dict, base: Path) -> dict:
    """Replace file references in the shared part with their contents."""
    document = copy.deepcopy(document)
    problems: list[Problem] = []
    for tenant in document.get("tenants") or []:
        if not isinstance(tenant, dict):
            continue
        tid = tenant.get("id", "?")
        for domain in tenant.get("domains") or []:
            if not isinstance(domain, dict):
                continue
            entries = domain.get("dkim")
            entries = entries if isinstance(entries, list) else [entries] if entries else []
            for index, entry in enumerate(entries):
                if isinstance(entry, dict) and "key" in entry:
                    where = f"tenants[{tid}].domains[{domain.get('name')}].dkim.key"
                    pem = _read_file(base, entry.pop("key"), where, tid, problems)
                    if pem is not None:
                        entry["key_pem"] = pem
        smime = tenant.get("smime")
        if isinstance(smime, dict) and isinstance(smime.get("certs"), dict):
            for address, name in list(smime["certs"].items()):
                pem = _read_file(base, name, f"tenants[{tid}].smime.certs.{address}", tid, problems)
                if pem is not None:
                    smime["certs"][address] = pem
    if problems:
        raise ConfigError(problems)
    return document


def split(document: Mapping[str, Any]) -> tuple[dict, dict]:
    """(node settings, shared settings) of a file document."""
    node = {k: v for k, v in document.items() if k in NODE_KEYS}
    shared = {k: v for k, v in document.items() if k not in NODE_KEYS}
    return node, shared


def _walk_secrets(value: Any, action, path: str = "") -> Any:
    if isinstance(value, dict):
        if set(value) == {SEALED}:
            return action(value, path, sealed=True)
        return {k: (action(v, f"{path}.{k}", sealed=False) if k in SECRET_KEYS and isinstance(v, str)
                    else _walk_secrets(v, action, f"{path}.{k}"))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_walk_secrets(v, action, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def seal_secrets(document: dict, keyring) -> dict:
    """Seal every private key and password in a shared document (for the topic)."""
    def seal(value: Any, path: str, sealed: bool) -> Any:
        return value if sealed else {SEALED: keyring.seal_secret(value, "config")}
    return _walk_secrets(document, seal)


def open_secrets(document: dict, keyring) -> dict:
    """Open sealed secrets of a document read from the topic."""
    def open_(value: Any, path: str, sealed: bool) -> Any:
        return keyring.open_secret(value[SEALED], "config") if sealed else value
    return _walk_secrets(document, open_)


def load_file(path: str | Path) -> Config:
    """Read, inline and validate a whole config file (node and shared parts)."""
    path = Path(path)
    document = inline_files(read_yaml(path), path.resolve().parent)
    return parse(document, source=str(path))


def combine(node: Mapping[str, Any], shared: Mapping[str, Any], source: str) -> Config:
    """A Config from this node's settings and the shared document from the topic."""
    document = {**{k: v for k, v in shared.items() if k not in NODE_KEYS}, **node}
    return parse(document, source=source)


__all__ = ["Config", "ConfigError", "load_file", "read_yaml", "inline_files", "split",
           "seal_secrets", "open_secrets", "combine", "parse"]
