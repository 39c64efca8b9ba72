"""`postwarden dlp scan FILE.eml... [--config FILE --tenant ID]`: tune rules offline.

Runs the DLP core on message files and prints one JSON line per file:
``{"file": ..., "findings": [{"type": ..., "count": ..., "location": ...}]}``;
with a tenant it adds ``"results"``: the verdicts that tenant's rules give.
Without --config every detector runs.  Exit status: 0 when every file was
scanned, 1 when a file could not be read, 2 for a usage or config error.

Reads: message files and a config file given by the operator.  Prints counts,
never matched values.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from postwarden.config.dlp import DlpPolicy, scan_everything

from agents.dlp.inspection import inspect
from agents.dlp.rules import decide


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postwarden dlp",
                                     description="Run the DLP stage's core on message files.")
    commands = parser.add_subparsers(dest="command", required=True)
    scan = commands.add_parser("scan", help="print the findings of each message as JSON lines")
    scan.add_argument("files", nargs="+", metavar="FILE.eml")
    scan.add_argument("--config", help="config file whose tenant rules to apply")
    scan.add_argument("--tenant", help="tenant id in --config")
    return parser


def _tenant_policy(config_path: str, tenant_id: str) -> DlpPolicy:
    from postwarden.config import load_file
    config = load_file(config_path)
    tenant = config.tenant(tenant_id)
    if tenant is None:
        raise LookupError(f"{config_path}: no tenant {tenant_id!r}")
    return tenant.dlp


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dlp"]:
        argv = argv[1:]
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if bool(args.config) != bool(args.tenant):
        print("postwarden dlp scan: --config and --tenant go together", file=sys.stderr)
        return 2
    policy = scan_everything()
    if args.config:
        try:
            policy = _tenant_policy(args.config, args.tenant)
        except Exception as error:   # ConfigError, LookupError, OSError: all for the operator
            print(f"postwarden dlp scan: {error}", file=sys.stderr)
            return 2
    status = 0
    for name in args.files:
        try:
            content = Path(name).read_bytes()
        except OSError as error:
            print(json.dumps({"file": name, "error": error.strerror or str(error)}))
            status = 1
            continue
        findings = inspect(content, policy)
        line = {"file": name, "findings": findings.to_records()}
        if args.config:
            line["results"] = [{"verdict": r.verdict.value, "reason": r.reason,
                                "details": dict(r.details)} for r in decide(findings, policy)]
        print(json.dumps(line, ensure_ascii=False))
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
