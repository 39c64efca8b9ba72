"""`postwarden up`: the whole relay on one machine, for trying it out.

Validates the config, starts the embedded broker when the file names no
Kafka, makes a master key for the embedded setup (and says where it is),
applies the config, then runs ingress, agents and egress as child processes
(exactly the commands an operator runs apart to scale them) and stops them
all on Ctrl-C.  Prints how to send a first message.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from postwarden import crypto, kafka

log = logging.getLogger("postwarden.up")


def _master_key_env(state_dir: Path) -> dict:
    env = dict(os.environ)
    if env.get(crypto.MASTER_KEY_ENV) or env.get(crypto.MASTER_KEY_FILE_ENV):
        return env
    path = crypto.ensure_master_key_file(state_dir / "master.key")
    log.warning("embedded setup: using the master key in %s (made on first run; without it, "
                "sealed messages cannot be read; production takes it from the environment or a KMS)",
                path.resolve())
    env[crypto.MASTER_KEY_FILE_ENV] = str(path.resolve())
    return env


def first_message_help(config, config_path: str) -> str:
    address = config.ingress.submission
    app = next((a for t in config.tenants for a in t.apps), None)
    if app is None or address is None:
        return "No app is configured: add one under tenants[].apps to send mail."
    sender = next((s for s in app.allowed_senders if "*" not in s), app.allowed_senders[0])
    return (
        "\nPostwarden is up. Send a first message (STARTTLS + AUTH) with swaks:\n"
        f"  swaks --server {address[0]}:{address[1]} --tls --tls-verify=no "
        f"--auth-user {app.username} --auth-password '<the app password>' \\\n"
        f"        --from {sender} --h-From '{sender}' --to someone@example.org\n"
        "or with Python:\n"
        f"  .venv/bin/python -c \"import smtplib,ssl; s=smtplib.SMTP('{address[0]}',{address[1]}); "
        f"s.starttls(context=ssl._create_unverified_context()); s.login('{app.username}','<password>'); "
        f"s.sendmail('{sender}',['someone@example.org'],'From: {sender}\\r\\nTo: someone@example.org"
        f"\\r\\nSubject: hello\\r\\n\\r\\nfirst message\\r\\n'); s.quit()\"\n"
    )


def up(args) -> int:
    from postwarden.cli import _load

    config, _node = _load(args)
    state_dir = Path(config.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    env = _master_key_env(state_dir)
    children: list[subprocess.Popen] = []
    broker = None
    bootstrap = config.kafka.bootstrap
    if not bootstrap:
        broker = kafka.EmbeddedBroker(port=int(os.environ.get("POSTWARDEN_BROKER_PORT", "0")),
                                      log_path=state_dir / "broker.log").start()
        bootstrap = broker.bootstrap
        log.info("embedded broker (memory only, for local use) on %s", bootstrap)
    command = [sys.executable, "-m", "postwarden.cli", "--log-level", args.log_level]
    common = ["--config", args.config, "--bootstrap", bootstrap]

    def stop_all(*_):
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if broker:
            broker.stop()

    try:
        if args.sink:
            host, _, port = args.sink.rpartition(":")
            children.append(subprocess.Popen(
                command + ["sink", "--host", host or "127.0.0.1", "--port", port,
                           "--dir", str(state_dir / "sink")], env=env))
        applied = subprocess.run(command + ["apply"] + common, env=env)
        if applied.returncode != 0:
            stop_all()
            return applied.returncode
        for component in ("agents", "egress", "ingress"):
            children.append(subprocess.Popen(command + [component] + common, env=env))
        print(first_message_help(config, args.config), flush=True)
        if args.sink:
            print(f"Delivered mail lands in {state_dir / 'sink'} (the development sink on {args.sink}).\n",
                  flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = [c for c in children if c.poll() is not None]
        log.error("a component exited (status %s); stopping the rest", failed[0].returncode)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_all()
