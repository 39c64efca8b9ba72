"""End-to-end benchmark of the whole relay: SMTP in, Kafka, agents, Kafka, SMTP out.

Starts the embedded broker and the three components as real processes (the
same harness as the integration tests), then runs bench/load.py against the
submission port with STARTTLS + AUTH: 20 sessions, ~2 KB messages, like the
Postfix baseline in ../shared/bench/postfix-baseline.  The relay delivers to
load.py's counting sink, so the figures are accepted/s and delivered/s through
every stage, DKIM signing (RSA-2048 + Ed25519 per message) included.

    .venv/bin/python bench/relay_bench.py --count 20000 --sessions 20
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from postwarden import kafka  # noqa: E402
from postwarden.kafka import free_port  # noqa: E402
from tests.fixtures.relay import PASSWORD, Relay, base_document  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (seconds)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--rsa-only", action="store_true", help="sign with the RSA key only")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--per-connection", type=int, default=0,
                        help="messages per SMTP connection (1 = like smtp-source: connect, "
                             "STARTTLS, AUTH for every message); 0 = reuse")
    parser.add_argument("--profile", metavar="DIR",
                        help="sample each component with py-spy during the run (collapsed stacks)")
    args = parser.parse_args()

    from postwarden import passwords

    directory = Path(tempfile.mkdtemp(prefix="postwarden-bench-"))
    broker = kafka.EmbeddedBroker(log_path=directory / "broker.log").start()
    sink_port = free_port()
    document = base_document(directory, broker.bootstrap, sink_port,
                             passwords.hash_password(PASSWORD, log_n=12))
    document["ingress"]["max_message_size"] = 10_000_000
    document["ingress"]["publish_timeout"] = "10s"
    if args.rsa_only:
        document["tenants"][0]["domains"][0]["dkim"] = document["tenants"][0]["domains"][0]["dkim"][:1]
    relay = Relay(directory, document)
    relay.write_config()
    relay.start()
    host, port = relay.submission
    load = [sys.executable, str(Path(__file__).with_name("load.py")), "--host", host, "--port", str(port),
            "--tls", "starttls", "--username", "billing@acme", "--password", PASSWORD,
            "--from", "invoices@acme.example", "--to", "someone@example.org",
            "--sessions", str(args.sessions), "--size", str(args.size), "--sink-port", str(sink_port),
            "--per-connection", str(args.per_connection)]
    try:
        time.sleep(12)  # the agents' first group join (rebalance timeout) before measuring
        if args.warmup:
            subprocess.run(load + ["--count", str(args.warmup), "--quiet"], check=True,
                           stdout=subprocess.DEVNULL)
        print(f"relay: embedded broker, ingress + agents + egress processes; "
              f"{len(document['tenants'][0]['domains'][0]['dkim'])} DKIM signature(s) per message",
              flush=True)
        pids = {name: p.pid for name, p in relay.processes.items()}
        pids["broker"] = broker.process.pid
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        profilers = []
        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            profilers = [subprocess.Popen(["py-spy", "record", "--format", "raw", "--rate", "200",
                                           "--pid", str(pid), "-o", f"{args.profile}/{name}.txt"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for name, pid in pids.items() if name != "broker"]
        status = subprocess.run(load + ["--count", str(args.count)]).returncode
        for profiler in profilers:
            profiler.send_signal(2)
            profiler.wait(30)
        used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        print("CPU per message (ms): " + "  ".join(
            f"{name} {1000 * seconds / args.count:.2f}" for name, seconds in used.items()) +
            f"  total {1000 * sum(used.values()) / args.count:.2f}")
        return status
    finally:
        relay.stop()
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
