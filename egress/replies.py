"""Reply codes and texts the delivery engine gives when it decides locally.

Every outcome the engine makes up itself (no server said it) comes from here,
named after its meaning: a null MX, a domain that does not exist, DNS down, a
TLS policy that could not be met, shaping, a held message.  Each is a
`LocalReply(code, enhanced, text)`; `status` says whether it defers or bounces.

Reads/writes nothing; parses nothing untrusted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalReply:
    code: int
    enhanced: str
    text: str

    @property
    def status(self) -> str:
        return "bounced" if self.code >= 500 else "deferred"

    def with_detail(self, detail: str) -> "LocalReply":
        return LocalReply(self.code, self.enhanced, f"{self.text}: {detail}" if detail else self.text)


NULL_MX = LocalReply(556, "5.1.10", "recipient domain publishes a null MX and accepts no mail")
NO_SUCH_DOMAIN = LocalReply(550, "5.1.2", "recipient domain does not exist")
NO_MAIL_HOST = LocalReply(550, "5.4.4", "no mail server address for the recipient domain")
BAD_ADDRESS = LocalReply(553, "5.1.3", "recipient address is not a valid mailbox")
DNS_TEMPFAIL = LocalReply(451, "4.4.3", "DNS lookup for the recipient domain failed temporarily")
CONNECT_FAILED = LocalReply(451, "4.4.1", "no answer from the destination mail server")
CONNECTION_LOST = LocalReply(451, "4.4.2", "connection lost during the transaction")
TLS_NOT_OFFERED = LocalReply(451, "4.7.10", "TLS is required but the destination does not offer STARTTLS")
TLS_FAILED = LocalReply(451, "4.7.5", "TLS handshake or certificate check failed")
MTA_STS_NO_VALID_MX = LocalReply(451, "4.7.5", "no MX host matches the domain's MTA-STS policy")
DANE_MISMATCH = LocalReply(451, "4.7.5", "the server certificate does not match the DNSSEC-validated TLSA records")
AUTH_FAILED = LocalReply(451, "4.7.8", "the smart host refused our credentials")
SHAPING_BUSY = LocalReply(451, "4.4.5", "destination busy: shaping limit reached, retrying later")
BACKING_OFF = LocalReply(451, "4.4.5", "destination asked us to slow down (421); backing off")
SMIME_HOLD = LocalReply(451, "4.7.0", "held: encryption is required and no certificate is registered for the recipient")
RESIGN_FAILED = LocalReply(451, "4.7.0", "held: the encrypted message could not be DKIM-signed")
EXPIRED = LocalReply(550, "5.4.7", "delivery time expired")
ALREADY_DELIVERED = LocalReply(250, "2.0.0", "already delivered to this recipient (duplicate suppressed)")
