"""The reference config in deploy/example documents every key: it must stay valid."""

import shutil
from pathlib import Path

from postwarden.config import load_file
from postwarden.dkimkeys import generate
from tests.fixtures.tls import make_ca, make_cert

REFERENCE = Path(__file__).resolve().parents[2] / "deploy" / "example" / "reference.yaml"


def test_reference_config_is_valid(tmp_path):
    shutil.copy(REFERENCE, tmp_path / "reference.yaml")
    generate(tmp_path / "keys" / "acme-rsa.pem", "rsa")
    generate(tmp_path / "keys" / "acme-ed25519.pem", "ed25519")
    ca = make_ca()
    cert = make_cert(ca, ["cfo@partner.example"])
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "cfo.pem").write_bytes(cert.cert_pem)
    config = load_file(tmp_path / "reference.yaml")
    acme = config.tenant("acme")
    assert acme.delivery.tls == "mta-sts"
    assert [r.name for r in acme.dlp.rules] == ["cards", "health", "ssn"]
    assert config.delivery.routes[0].auth.username == "relay"
    assert "s3cret" not in repr(config.delivery.routes[0])


def test_example_config_for_make_up_is_valid(tmp_path):
    # make up generates the example's keys beside it; do the same in a copy
    shutil.copy(REFERENCE.with_name("postwarden.yaml"), tmp_path / "postwarden.yaml")
    generate(tmp_path / "keys" / "acme-rsa.pem", "rsa")
    generate(tmp_path / "keys" / "acme-ed25519.pem", "ed25519")
    config = load_file(tmp_path / "postwarden.yaml")
    assert config.tenant("acme").apps[0].username == "billing@acme"
    assert config.kafka.bootstrap is None                # up starts the embedded broker
