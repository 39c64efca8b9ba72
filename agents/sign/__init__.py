"""The sign stage: DKIM-signs each message with its tenant's keys (pure core in
`dkim` and `stage`; the Faust agent is the only part that knows topics)."""
