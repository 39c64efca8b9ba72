"""The DLP stage: find personal and health data in a message and apply tenant rules.

Pure core, no Kafka (the agent that calls it is elsewhere):

    findings = agents.dlp.inspect(raw_message_bytes, tenant.dlp)   # -> Findings
    results = agents.dlp.decide(findings, tenant.dlp)              # -> [StageResult]

`inspect` never raises and `Findings` never hold a matched value (counts by
type and location, at most masked samples).  See `inspection.py` for the
pipeline, `detectors.py` for what each detector accepts, `rules.py` for the
verdicts, `cli.py` for `postwarden dlp scan`.
"""

from agents.dlp.findings import Finding, Findings
from agents.dlp.inspection import inspect
from agents.dlp.rules import decide
from postwarden.config.dlp import DlpPolicy, scan_everything

__all__ = ["inspect", "decide", "Finding", "Findings", "DlpPolicy", "scan_everything"]
