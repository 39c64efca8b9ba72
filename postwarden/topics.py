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
QUARANTINE_ACTIONS = PREFIX + "quarantine-actions"  # operator release/delete commands
RELEASED = PREFIX + "released"        # Message, released from quarantine: continues after the scan
RETRY = PREFIX + "retry"              # Message with not_before set: the delay topic for egress

COMPACTED = {CONFIG, QUARANTINE}
ALL = [CONFIG, SUBMITTED, OUTBOUND, AUDIT, DEAD_LETTER, QUARANTINE, QUARANTINE_ACTIONS, RELEASED, RETRY]

CONFIG_KEY = b"config"
