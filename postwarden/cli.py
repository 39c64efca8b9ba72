"""The `postwarden` command: run components, apply config, operate the relay.

    postwarden up --config FILE          everything on one machine (+ embedded broker
                                         when the file has no kafka.bootstrap)
    postwarden ingress|agents|egress --config FILE   one component, to scale apart
    postwarden apply --config FILE       validate and publish the shared config
    postwarden validate --config FILE    validate only
    postwarden hash-password             print a password hash for an app
    postwarden dkim-keygen ...           make a DKIM key and print its DNS record
    postwarden dlp scan FILE.eml...      run the DLP core on files
    postwarden quarantine list|show|release|delete

Reads: config files, the master key (environment or file).  Never prints a
secret except what an operator asks for (`hash-password` prints a hash only).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
from pathlib import Path

from postwarden import crypto

log = logging.getLogger("postwarden")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _load(args) -> tuple["Config", dict]:  # noqa: F821
    """The validated file config (with --bootstrap applied) and this node's own settings."""
    from postwarden.config import ConfigError, inline_files, parse, read_yaml, split

    try:
        document = read_yaml(args.config)
        if getattr(args, "bootstrap", None):
            document["kafka"] = {**(document.get("kafka") or {}), "bootstrap": args.bootstrap}
        base = Path(args.config).resolve().parent
        config = parse(inline_files(document, base), source=str(args.config))
    except ConfigError as error:
        print(f"postwarden: invalid config\n{error}", file=sys.stderr)
        raise SystemExit(2)
    node, _ = split(document)
    return config, node


def _keyring() -> crypto.Keyring:
    try:
        return crypto.Keyring(crypto.load_master_key())
    except crypto.MasterKeyError as error:
        print(f"postwarden: {error}", file=sys.stderr)
        raise SystemExit(2)


def _need_bootstrap(config) -> None:
    if not config.kafka.bootstrap:
        print("postwarden: this component needs kafka.bootstrap in the config (or --bootstrap); "
              "`postwarden up` starts an embedded broker instead", file=sys.stderr)
        raise SystemExit(2)


# -- commands -----------------------------------------------------------------------
def cmd_validate(args) -> int:
    config, _ = _load(args)
    print(f"{args.config}: valid ({len(config.tenants)} tenants, "
          f"{sum(len(t.apps) for t in config.tenants)} apps)")
    return 0


def cmd_apply(args) -> int:
    from postwarden import kafka
    from postwarden.config import inline_files, read_yaml, split
    from postwarden.registry import publish

    config, node = _load(args)
    _need_bootstrap(config)
    _, shared = split(inline_files(read_yaml(args.config), Path(args.config).resolve().parent))

    async def apply() -> dict:
        await kafka.ensure_topics(config.kafka)
        return await publish(config.kafka, shared, _keyring(), node=node)

    record = asyncio.run(apply())
    print(f"applied config version {record['version']} to {config.kafka.bootstrap}")
    return 0


async def _until_signalled(work) -> None:
    """Run `work` (a coroutine) until it ends or SIGINT/SIGTERM arrives; re-raise its failure."""
    task = asyncio.create_task(work)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        task.result()
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def cmd_ingress(args) -> int:
    from ingress.server import IngressNode

    config, node = _load(args)
    _need_bootstrap(config)
    server = IngressNode(config, node, _keyring())

    async def serve() -> None:
        await server.start()
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    asyncio.run(_until_signalled(serve()))
    return 0


def cmd_agents(args) -> int:
    from agents.worker import run

    config, node = _load(args)
    _need_bootstrap(config)
    sys.argv = [sys.argv[0]]  # Faust's worker reads its own command line
    run(config, node, _keyring(), loglevel=args.log_level)
    return 0


def cmd_egress(args) -> int:
    from egress.worker import run

    config, node = _load(args)
    _need_bootstrap(config)
    asyncio.run(_until_signalled(run(config, node, _keyring())))
    return 0


def cmd_hash_password(args) -> int:
    from postwarden import passwords

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("postwarden: the passwords differ", file=sys.stderr)
            return 1
    if len(password) < 12:
        print("postwarden: use at least 12 characters", file=sys.stderr)
        return 1
    print(passwords.hash_password(password))
    return 0


def cmd_dkim_keygen(args) -> int:
    from postwarden.dkimkeys import dns_record, generate

    path = Path(args.out)
    if path.exists() and not args.force:
        print(f"{path} exists (use --force to replace it)", file=sys.stderr)
        return 1
    generate(path, args.type)
    print(dns_record(path, args.domain, args.selector))
    return 0


def cmd_dlp(args) -> int:
    from agents.dlp.cli import main

    return main(args.rest)


def cmd_quarantine(args) -> int:
    from agents.quarantine import main

    return main(args.rest, bootstrap=args.bootstrap, config_path=args.config)


def cmd_sink(args) -> int:
    from postwarden.devsink import serve

    asyncio.run(serve(args.host, args.port, Path(args.dir)))
    return 0


def cmd_up(args) -> int:
    from postwarden.up import up

    return up(args)


# -- parser -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postwarden", description="Secure relay for application mail")
    parser.add_argument("--log-level", default=os.environ.get("POSTWARDEN_LOG_LEVEL", "info"))
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(name: str, func, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--config", required=True, help="config file (YAML)")
        sub.add_argument("--bootstrap", help="Kafka bootstrap host:port (overrides kafka.bootstrap)")
        sub.set_defaults(func=func)
        return sub

    up_parser = with_config("up", cmd_up, "run the whole relay on this machine")
    up_parser.add_argument("--sink", help="also run a development SMTP sink on host:port that "
                                          "stores received mail under the state dir")
    with_config("ingress", cmd_ingress, "run an SMTP ingress node")
    with_config("agents", cmd_agents, "run the stage agents (Faust worker)")
    with_config("egress", cmd_egress, "run an egress delivery worker")
    with_config("apply", cmd_apply, "validate and publish the shared config")
    validate = commands.add_parser("validate", help="validate a config file")
    validate.add_argument("--config", required=True)
    validate.set_defaults(func=cmd_validate)

    hashing = commands.add_parser("hash-password", help="print a password hash for an app")
    hashing.add_argument("--password-stdin", action="store_true")
    hashing.set_defaults(func=cmd_hash_password)

    keygen = commands.add_parser("dkim-keygen", help="make a DKIM private key, print its DNS record")
    keygen.add_argument("--domain", required=True)
    keygen.add_argument("--selector", required=True)
    keygen.add_argument("--type", choices=["rsa", "ed25519"], default="rsa")
    keygen.add_argument("--out", required=True)
    keygen.add_argument("--force", action="store_true")
    keygen.set_defaults(func=cmd_dkim_keygen)

    dlp = commands.add_parser("dlp", help="DLP tools: `dlp scan FILE.eml...`")
    dlp.add_argument("rest", nargs=argparse.REMAINDER)
    dlp.set_defaults(func=cmd_dlp)

    quarantine = commands.add_parser("quarantine", help="list|show|release|delete held messages")
    quarantine.add_argument("--config", help="config file (for kafka.bootstrap)")
    quarantine.add_argument("--bootstrap")
    quarantine.add_argument("rest", nargs=argparse.REMAINDER)
    quarantine.set_defaults(func=cmd_quarantine)

    sink = commands.add_parser("sink", help="a development SMTP sink that stores mail as .eml files")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=2526)
    sink.add_argument("--dir", default=".postwarden/sink")
    sink.set_defaults(func=cmd_sink)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
