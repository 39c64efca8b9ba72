"""`postwarden up`, as `make up` runs it: embedded broker, generated master key, all parts,
a development sink; a first message arrives signed; Ctrl-C stops everything."""

import os
import signal
import smtplib
import ssl
import subprocess
import sys
import time

import pytest
import yaml

from postwarden.kafka import free_port
from tests.fixtures.relay import PASSWORD, REPO, base_document

pytestmark = pytest.mark.broker


def test_up_runs_the_whole_relay_on_an_embedded_broker(tmp_path, password_hash):
    sink_port = free_port()
    document = base_document(tmp_path, "unused:1", sink_port, password_hash)
    del document["kafka"]                      # no Kafka named: up starts the embedded broker
    document["state_dir"] = str(tmp_path / "state")
    (tmp_path / "postwarden.yaml").write_text(yaml.safe_dump(document))
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTWARDEN_")}
    env["PYTHONPATH"] = str(REPO)
    log = open(tmp_path / "up.log", "wb")
    up = subprocess.Popen([sys.executable, "-m", "postwarden.cli", "up", "--config",
                           str(tmp_path / "postwarden.yaml"), "--sink", f"127.0.0.1:{sink_port}"],
                          cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
    host, port = document["ingress"]["submission"].rsplit(":", 1)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = smtplib.SMTP(host, int(port), timeout=10)
                break
            except OSError:
                assert up.poll() is None, (tmp_path / "up.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
                time.sleep(0.2)
        client.starttls(context=ssl._create_unverified_context())
        client.login("billing@acme", PASSWORD)
        client.sendmail("invoices@acme.example", ["someone@example.org"],
                        b"From: invoices@acme.example\r\nTo: someone@example.org\r\n"
                        b"Subject: first message\r\n\r\nhello\r\n")
        client.quit()
        sink = tmp_path / "state" / "sink"
        deadline = time.monotonic() + 60
        while not (sink.exists() and list(sink.glob("*.eml"))) and time.monotonic() < deadline:
            time.sleep(0.2)
        [stored] = list(sink.glob("*.eml"))
        assert stored.read_bytes().count(b"DKIM-Signature:") == 2
        output = (tmp_path / "up.log").read_text()
        assert "master key" in output and str(tmp_path / "state" / "master.key") in output
        assert "swaks" in output                           # how to send a first message
        assert (tmp_path / "state" / "master.key").stat().st_mode & 0o077 == 0
    finally:
        os.killpg(up.pid, signal.SIGINT)
        up.wait(30)
    assert up.returncode == 0
    time.sleep(1)
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path / "postwarden.yaml")], capture_output=True)
    assert leftover.stdout == b"", "components still running after up stopped"
