"""Operators scale each group on its own: two agents workers and two egress workers in one
group split the partitions, and every message is delivered exactly once."""

import time
import uuid

import pytest

from postwarden import codec

from tests.fixtures.relay import Relay, acme_message, base_document
from tests.fixtures.sink import SmtpSink

pytestmark = pytest.mark.broker


def test_two_agents_and_two_egress_workers_deliver_each_message_once(broker, password_hash, tmp_path):
    sink = SmtpSink().start()
    relay = Relay(tmp_path, base_document(tmp_path, broker.bootstrap, sink.port, password_hash),
                  components=("agents", "agents", "egress", "egress", "ingress"))
    relay.write_config()
    try:
        relay.start()
        run = uuid.uuid4().hex[:8]
        subjects = {f"Scaled {run} {n}" for n in range(60)}
        for subject in sorted(subjects):
            code, text = relay.submit(acme_message(subject=subject))
            assert code == 250, text
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            arrived = [m.header("Subject") for m in sink.messages if m.header("Subject") in subjects]
            if len(set(arrived)) == len(subjects):
                break
            time.sleep(0.5)
        time.sleep(2)
        arrived = [m.header("Subject") for m in sink.messages if m.header("Subject") in subjects]
        assert sorted(arrived) == sorted(subjects)          # all of them, none twice
        assert all(process.poll() is None for process in relay.processes.values())
        # both workers of each group did part of the work
        events = [codec.decode(v) for v in relay.raw_records("audit")]
        signed_by = {e["details"]["node"] for e in events if e["event"] == "signed"}
        delivered_by = {e["details"]["node"] for e in events if e["event"] == "delivered"}
        assert len(signed_by) == 2 and len(delivered_by) == 2
    finally:
        relay.stop()
        sink.stop()
