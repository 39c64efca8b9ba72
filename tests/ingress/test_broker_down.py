"""Nothing acknowledged and then lost: with the broker gone, a sender gets 451, never 250."""

import time

import pytest

from postwarden import kafka
from tests.fixtures.relay import Relay, acme_message, base_document

pytestmark = pytest.mark.broker


@pytest.fixture
def lonely_relay(tmp_path, relay_sink, password_hash):
    broker = kafka.EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    relay = Relay(tmp_path, base_document(tmp_path, broker.bootstrap, relay_sink.port, password_hash),
                  components=("ingress",))
    relay.write_config()
    relay.start()
    yield relay, broker
    relay.stop()
    broker.stop()


def test_broker_down_gives_451_within_seconds(lonely_relay):
    relay, broker = lonely_relay
    code, text = relay.submit(acme_message())
    assert code == 250, text                      # healthy first

    broker.stop()
    started = time.monotonic()
    code, text = relay.submit(acme_message(subject="while the broker is down"))
    elapsed = time.monotonic() - started
    assert code == 451, text
    assert b"4.3.0" in text
    assert elapsed < 15, f"451 took {elapsed:.1f}s"
