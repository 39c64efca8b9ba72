"""The content security stage: antivirus (clamd), spam scoring (rspamd), impersonation.

Public API (the agent and the tests use only these):

- `ClamdClient(address, timeout).scan(content) -> ClamdResult`
- `RspamdClient(url, timeout).check(content, *, envelope_sender, recipients,
  client_ip, helo, auth_user, queue_id) -> RspamdResult`
- both raise `ScannerUnavailable` when the scanner cannot answer in time
- `impersonation.check(content, tenant) -> list[Finding]` (pure)
- `scan_message(content, message_meta, tenant, scanners_config, clients) -> ScanOutcome`
  with `make_clients(config.scanners)` (= `ScanClients.from_config`) as `clients`
- `decide(policy, virus=..., spam=..., findings=...) -> ScanOutcome` (pure policy)
- `reasons.dsn_text(result)`: the sentence a DSN shows for a scan result

The Kafka agent that calls `scan_message` lives beside this package; nothing
here knows about topics.
"""

from agents.scan import impersonation, reasons
from agents.scan.impersonation import Finding
from agents.scan.scanners import (ClamdClient, ClamdResult, RspamdClient, RspamdResult,
                                  ScannerUnavailable)
from agents.scan.stage import ScanClients, ScanOutcome, decide, scan_message

make_clients = ScanClients.from_config

__all__ = ["ClamdClient", "ClamdResult", "RspamdClient", "RspamdResult", "ScannerUnavailable",
           "Finding", "ScanClients", "make_clients", "ScanOutcome", "decide", "scan_message", "impersonation",
           "reasons"]
