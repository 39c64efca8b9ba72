"""Scan stage throughput: messages per second through clamd + rspamd + impersonation checks.

What it does: starts its own clamd (test signature database) and rspamd (offline
config, N normal workers) on loopback with tests/fixtures/scanners.py, then
1. costs each part alone, one message at a time: clamd INSTREAM, rspamd /checkv2,
   the impersonation checks — latency per message (mean, p50, p95) and CPU per
   message of the scanner's processes (utime+stime from /proc/<pid>/stat, rspamd
   master and workers summed) and of this process (the clients);
2. runs the whole `agents.scan.scan_message` (both scanners at once + checks + policy)
   at several concurrency levels for a fixed time each and reports messages/s and
   latency, and the concurrency that reaches the best rate.
Output: a human table on stdout, then one JSON line.
What it reads/writes: a temp dir for the daemons (removed at the end); loopback only.
Untrusted input: none.

Run: .venv/bin/python bench/scan_bench.py [--seconds 5] [--levels 1,2,4,8,16,32,64]
                                           [--rspamd-workers 2] [--size 12000]

The message is a transactional invoice: a short text part, an HTML alternative
with links, and a PDF-like attachment padded to about --size bytes.  Everything
runs on one machine, so the scanners and this client share its CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

if __package__ in (None, ""):            # run as `python bench/scan_bench.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from agents.scan import ScanClients, impersonation, scan_message  # noqa: E402
from agents.scan.scanners import ClamdClient, RspamdClient  # noqa: E402
from postwarden.config.content import ProtectedName, TenantContent  # noqa: E402
from postwarden.config.model import Domain, Tenant  # noqa: E402
from postwarden.verdicts import Verdict  # noqa: E402
from tests.fixtures.scanners import start_clamd, start_rspamd  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
TENANT = Tenant("acme", "Acme Corp", (Domain("acme.example"),), (),
                content=TenantContent(protect=(ProtectedName("Jane Doe", ("jane.doe@acme.example",)),),
                                      forbid_external_reply_to=True))
META = SimpleNamespace(id="bench", envelope_sender="billing@acme.example",
                       recipients=("customer@client.example",), client_address="192.0.2.10",
                       helo="app1.acme.example", auth_user="billing-app")


def invoice(size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Acme Billing <billing@acme.example>"
    msg["To"] = "Customer <customer@client.example>"
    msg["Subject"] = "Your invoice INV-1042"
    msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    msg["Message-ID"] = "<inv-1042@acme.example>"
    msg.set_content("Dear customer,\n\nyour invoice INV-1042 for December is attached.\n"
                    "Amount due: EUR 120.00 within 30 days.\n\nAcme Billing\n")
    msg.add_alternative('<html><body><p>Dear customer,</p><p>your invoice is attached. '
                        'View it online at <a href="https://portal.acme.example/inv/1042">'
                        'portal.acme.example</a>.</p><p>Acme Billing</p></body></html>', subtype="html")
    body = msg.as_bytes()
    pad = max(0, (size - len(body)) * 3 // 4)
    pdf = b"%PDF-1.4\n" + bytes((i * 7919) % 251 for i in range(pad)) + b"\n%%EOF\n"
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="INV-1042.pdf")
    return msg.as_bytes()


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])          # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def checks_alone(content: bytes) -> list:
    return impersonation.check(content, TENANT)


async def cost(name: str, call, pids: list[int], seconds: float) -> dict:
    """One call at a time for `seconds`: latency and CPU per message."""
    await call()                                      # warm up (connections, caches)
    latencies = []
    cpu0, own0 = cpu_seconds(pids), time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    count = len(latencies)
    return {"part": name, "messages": count, "mean_ms": statistics.fmean(latencies),
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "scanner_cpu_ms": (cpu_seconds(pids) - cpu0) * 1000 / count if pids else 0.0,
            "client_cpu_ms": (time.process_time() - own0) * 1000 / count}


async def throughput(content: bytes, clients: ScanClients, concurrency: int, seconds: float,
                     pids: list[int]) -> dict:
    latencies: list[float] = []
    verdicts: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def worker():
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            outcome = await scan_message(content, META, TENANT, None, clients)
            latencies.append((time.perf_counter() - started) * 1000)
            verdicts[outcome.verdict.value] = verdicts.get(outcome.verdict.value, 0) + 1

    cpu0, own0 = cpu_seconds(pids), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    count = len(latencies)
    return {"concurrency": concurrency, "messages": count, "per_second": count / elapsed,
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "scanners_cpu_ms": (cpu_seconds(pids) - cpu0) * 1000 / count,
            "client_cpu_ms": (time.process_time() - own0) * 1000 / count, "verdicts": verdicts}


async def run(args) -> dict:
    content = invoice(args.size)
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="scan-bench-"))
    clamd = start_clamd(workdir / "clamd", threads=max(4, max(args.levels)))
    rspamd = start_rspamd(workdir / "rspamd", workers=args.rspamd_workers)
    clients = ScanClients(clamd=ClamdClient(clamd.address, 30), rspamd=RspamdClient(rspamd.address, 30))
    try:
        await asyncio.sleep(1)                       # let rspamd's workers settle
        rspamd_pids = rspamd.worker_pids()
        check = (await scan_message(content, META, TENANT, None, clients))
        assert check.verdict is Verdict.PASS, [r.to_record() for r in check.results]
        parts = [
            await cost("clamd", lambda: clients.clamd.scan(content), [clamd.pid], args.part_seconds),
            await cost("rspamd", lambda: clients.rspamd.check(
                content, envelope_sender=META.envelope_sender, recipients=META.recipients,
                client_ip=META.client_address, helo=META.helo, auth_user=META.auth_user,
                queue_id="bench"), rspamd_pids, args.part_seconds),
            await cost("impersonation", lambda: checks_alone(content), [], args.part_seconds),
        ]
        levels = [await throughput(content, clients, level, args.seconds, [clamd.pid] + rspamd_pids)
                  for level in args.levels]
    finally:
        await clients.close()
        clamd.stop()
        rspamd.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    best = max(levels, key=lambda level: level["per_second"])
    cpu_per_message = (best["scanners_cpu_ms"] + best["client_cpu_ms"]) / 1000
    return {"message_bytes": len(content), "cpus": os.cpu_count(), "load_before": load_before,
            "load_after": os.getloadavg()[0],
            "cpu_ceiling_per_second": (os.cpu_count() or 1) / cpu_per_message, "rspamd_workers": args.rspamd_workers,
            "parts": parts, "levels": levels, "best": {"concurrency": best["concurrency"],
                                                       "per_second": best["per_second"]}}


def report(result: dict) -> None:
    print(f"scan stage bench: {result['message_bytes']} byte invoice, {result['cpus']} CPUs, "
          f"rspamd workers {result['rspamd_workers']} (scanners and client share the machine)")
    print(f"1-min load average before {result['load_before']:.2f}, after {result['load_after']:.2f} "
          f"(anything else running skews the rates)")
    print("\ncost per message, one at a time:")
    print(f"  {'part':<14}{'msgs':>7}{'mean ms':>10}{'p50 ms':>9}{'p95 ms':>9}{'scanner CPU ms':>16}"
          f"{'client CPU ms':>15}")
    for p in result["parts"]:
        print(f"  {p['part']:<14}{p['messages']:>7}{p['mean_ms']:>10.2f}{p['p50_ms']:>9.2f}"
              f"{p['p95_ms']:>9.2f}{p['scanner_cpu_ms']:>16.2f}{p['client_cpu_ms']:>15.2f}")
    print("\nscan_message (clamd + rspamd in parallel + impersonation + policy):")
    print(f"  {'concurrency':>11}{'msgs':>8}{'msg/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'scanners CPU ms':>17}{'client CPU ms':>15}")
    for level in result["levels"]:
        print(f"  {level['concurrency']:>11}{level['messages']:>8}{level['per_second']:>9.1f}"
              f"{level['p50_ms']:>9.1f}{level['p95_ms']:>9.1f}{level['scanners_cpu_ms']:>17.2f}"
              f"{level['client_cpu_ms']:>15.2f}")
    best = result["best"]
    print(f"\nbest: {best['per_second']:.1f} messages/s at concurrency {best['concurrency']}")
    print(f"CPU ceiling on this machine: {result['cpu_ceiling_per_second']:.0f} messages/s "
          f"({result['cpus']} CPUs / scanners + client CPU per message at the best level)")
    print(json.dumps(result, separators=(",", ":")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per concurrency level")
    parser.add_argument("--part-seconds", type=float, default=3.0, help="per scanner cost run")
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--rspamd-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--size", type=int, default=12000, help="approximate message bytes")
    report(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
