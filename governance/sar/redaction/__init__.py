"""Redaction: a registry of small rules, each citing an exemption code (see :mod:`.base`)."""

from governance.sar.redaction.base import (
    WHOLE_RECORD,
    Redaction,
    RedactionContext,
    RedactionRule,
    get_rule,
    register_rule,
    rule_names,
)
from governance.sar.redaction.engine import default_rules, merge_spans, redact_records, summarise

__all__ = [
    "WHOLE_RECORD",
    "Redaction",
    "RedactionContext",
    "RedactionRule",
    "get_rule",
    "register_rule",
    "rule_names",
    "default_rules",
    "merge_spans",
    "redact_records",
    "summarise",
]
