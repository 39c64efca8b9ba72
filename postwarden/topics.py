"""Every Kafka topic name, declared once.  No other module spells a topic name.

Partitioning: `submitted`, `outbound` and the retry topics are keyed by message
id so one busy tenant spreads over every worker; `audit` is keyed by message
id; `config` is compacted with one key; `quarantine` is compacted by message id.
"""

from __future__ import annotations

import os

PREFIX = os.environ.get("POSTWARDEN_TOPIC_PREFIX", "postwarden.")

CONFIG = PREFIX + "config"            # compacted, key "config": ConfigRecord
SUBMITTED = PREFIX + "submitted"      # Message, from ingress
OUTBOUND = PREFIX + "outbound"        # Message, signed, for egress
AUDIT = PREFIX + "audit"              # AuditEvent, keyed by message id
DEAD_LETTER = PREFIX + "dead-letter"  # DeadLetter
QUARANTINE = PREFIX + "quarantine"    # compacted by message id: held Message, tombstone on release/delete
RELEASED = PREFIX + "released"        # Message to sign and deliver only: quarantine releases, DSNs
DELIVERED = PREFIX + "delivered"      # compacted by message id/recipient: egress's delivered-set

# Delay topics (seconds -> topic): a record waits in the longest one not past
# its due time; each topic is FIFO with one fixed delay, so its forwarder only
# ever sleeps on the head.  `return_to` names where a due record goes next.
DELAYS = {
    60: PREFIX + "delay-1m",
    300: PREFIX + "delay-5m",
    900: PREFIX + "delay-15m",
    1800: PREFIX + "delay-30m",
    3600: PREFIX + "delay-1h",
}
RETURN_TO = {"submitted": SUBMITTED, "outbound": OUTBOUND, "released": RELEASED}

COMPACTED = {CONFIG, QUARANTINE, DELIVERED}
ALL = [CONFIG, SUBMITTED, OUTBOUND, AUDIT, DEAD_LETTER, QUARANTINE, RELEASED,
       DELIVERED, *DELAYS.values()]

CONFIG_KEY = b"config"
