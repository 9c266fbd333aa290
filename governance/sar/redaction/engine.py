"""Apply the registered rules to a subject's records; merge, protect, and add the reviewer's decisions.

Order of decisions for one record:

1. whole-record rules (police intelligence, restricted, third-party
   documents), less any the reviewer lifted; a withheld record keeps only its
   withholdings (its text is not shown, so spans inside it mean nothing);
2. otherwise the span rules, less spans inside a professional's name (acting
   in role: not redacted), less spans inside a span a reviewer lifted (quoted
   as shown in the preview: a merged span lifts every rule's span within it),
   merged where they overlap;
3. the reviewer's own exemptions (serious harm, child abuse, court data,
   privilege...), whole-record or span, added last and winning any overlap.

Then, across records: a sharing record withheld in full (by any rule or
reviewer) withholds what it passed on, the casenote or document it links to,
under the same codes (rule ``withheld_with_its_share``), unless a reviewer
lifted that withholding. What the share passed on *is* the withheld
information: released through the note, it would reach the family all the
same; a silent code stays silent on the note. Decided here, once, so the
review pack, the preview and the bundle cannot differ (docs/sar.md).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

from governance.sar.discovery import Record
from governance.sar.redaction.base import (WHOLE_RECORD, Redaction, RedactionContext, RedactionRule, get_rule,
                                           rule_names)

__all__ = ["redact_records", "merge_spans", "default_rules", "summarise", "WITHHELD_WITH_SHARE"]

WITHHELD_WITH_SHARE = "withheld_with_its_share"
# A share's links to what it passed on: (field of the sharing record, entity linked).
_SHARED_MATERIAL = (("casenote_id", "casenote"), ("document_id", "document"))
_REPEATED_ID = re.compile(r"^(.+)~[0-9]+$")


def default_rules() -> list[RedactionRule]:
    return [get_rule(name) for name in rule_names()]


def merge_spans(spans: Iterable[Redaction]) -> list[Redaction]:
    """Overlapping or touching spans of one field become one; a reviewer's span wins the code."""
    out: list[Redaction] = []
    for r in sorted(spans, key=lambda r: (r.field, r.start, -r.end)):
        last = out[-1] if out else None
        if last is not None and last.field == r.field and r.start <= last.end:
            if r.end > last.end or (r.source == "reviewer" and last.source != "reviewer"):
                keep = r if r.source == "reviewer" and last.source != "reviewer" else last
                out[-1] = Redaction(last.entity, last.record_id, last.field, last.start, max(last.end, r.end),
                                    keep.code, keep.rule, keep.source)
            continue
        out.append(r)
    return out


def _protected(record: Record, context: RedactionContext) -> dict[str, list[tuple[int, int]]]:
    pattern = context.protected_pattern
    if pattern is None:
        return {}
    return {f: [m.span() for m in pattern.finditer(t)] for f, t in record.fields.items() if t}


def redact_records(
    records: Sequence[Record],
    context: RedactionContext,
    *,
    rules: Sequence[RedactionRule] | None = None,
    reviewer: Sequence[Redaction] = (),
    lifted: Iterable[tuple[str, str, str]] = (),
    lifted_spans: Iterable[tuple[str, str, str, int, int]] = (),
) -> dict[tuple[str, str], list[Redaction]]:
    """Redactions per record key ``(entity, record_id)``; records without any are absent.

    ``lifted``: (entity, record id, code) withholdings a reviewer lifted;
    ``lifted_spans``: (entity, record id, field, start, end) spans a reviewer lifted.
    """
    rules = list(rules) if rules is not None else default_rules()
    whole = [r for r in rules if r.whole_record]
    spans = [r for r in rules if not r.whole_record]
    for rule in spans:
        rule.prepare(records, context)
    lifted_set = set(lifted)
    unredacted: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
    for entity, record_id, field, start, end in lifted_spans:
        unredacted.setdefault((entity, record_id), []).append((field, start, end))
    by_record: dict[tuple[str, str], list[Redaction]] = {}
    for r in reviewer:
        by_record.setdefault((r.entity, r.record_id), []).append(r)
    out: dict[tuple[str, str], list[Redaction]] = {}
    for record in records:
        withheld = [w for rule in whole for w in rule.apply(record, context)
                    if (record.entity, record.record_id, w.code) not in lifted_set]
        manual = by_record.get(record.key, [])
        manual_whole = [m for m in manual if m.withholds]
        if withheld or manual_whole:
            out[record.key] = sorted(set(withheld + manual_whole))
            continue
        found = [s for rule in spans for s in rule.apply(record, context)] if record.fields else []
        guard = _protected(record, context)
        released = unredacted.get(record.key, [])
        found = [s for s in found
                 if not any(a <= s.start and s.end <= b for a, b in guard.get(s.field, ()))
                 and not any(f == s.field and a <= s.start and s.end <= b for f, a, b in released)]
        merged = merge_spans(found + manual)
        if merged:
            out[record.key] = merged
    _withhold_shared_material(records, out, lifted_set)
    return out


def _withhold_shared_material(records: Sequence[Record], out: dict[tuple[str, str], list[Redaction]],
                              lifted: set[tuple[str, str, str]]) -> None:
    """Withhold the note or document a withheld share passed on, under the share's codes (module docstring)."""
    by_link: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        by_link.setdefault((record.entity, record.record_id), []).append(record)
        # A store id held by several rows is disclosed as ``<id>~<n>`` (discovery): the link names each of them.
        repeated = _REPEATED_ID.match(record.record_id)
        if repeated:
            by_link.setdefault((record.entity, repeated[1]), []).append(record)
    for share in records:
        if share.entity != "sharing_record":
            continue
        codes = sorted({r.code for r in out.get(share.key, []) if r.withholds})
        for link, entity in _SHARED_MATERIAL if codes else ():
            target = share.meta.get(link)
            for material in by_link.get((entity, str(target)), []) if target is not None else ():
                derived = [Redaction(entity, material.record_id, WHOLE_RECORD, 0, 0, code, WITHHELD_WITH_SHARE)
                           for code in codes if (entity, material.record_id, code) not in lifted]
                if derived:  # withheld now: spans found in its text mean nothing any more
                    kept = [r for r in out.get(material.key, []) if r.withholds]
                    out[material.key] = sorted(set(kept + derived))


def summarise(result: dict[tuple[str, str], list[Redaction]]) -> dict[str, dict[str, int]]:
    """Counts per exemption code and per rule, and how many records are withheld or redacted."""
    codes: Counter = Counter()
    rules: Counter = Counter()
    withheld = redacted = 0
    for items in result.values():
        if any(r.withholds for r in items):
            withheld += 1
        else:
            redacted += 1
        for r in items:
            codes[r.code] += 1
            rules[r.rule] += 1
    return {"by_code": dict(sorted(codes.items())), "by_rule": dict(sorted(rules.items())),
            "records": {"withheld_in_full": withheld, "with_redactions": redacted}}
