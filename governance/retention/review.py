"""What the reviewer reads before approving a batch: counts only, never case content.

The text says what approving does *per action* (a destroyed case and an
anonymised one do not end the same way), keeps cases that are simply not due
yet apart from cases a safety rule keeps back, and shows earlier decisions
(rejections, standing or lifted) on the batch's cases, so a case rejected last
month is not approved today without anyone seeing that it was.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

__all__ = ["review_markdown", "NOT_DUE_REASONS", "EXCLUSION_LABELS"]

# Reason codes of cases that are simply not due yet (nothing is wrong with them).
NOT_DUE_REASONS = {
    "OPEN": "still open",
    "REOPENED": "reopened",
    "CHAIN_NOT_DUE": "re-referral chain not finished",
}
# Reason codes of cases a safety rule or a data problem keeps back.
EXCLUSION_LABELS = {
    "HOLD": "litigation / inquiry hold",
    "SAR_PENDING": "pending subject-access request",
    "QUARANTINED": "data-quality quarantine",
    "REJECTED": "rejected in an earlier review",
    "OBJECT_LOCKED": "document under object lock",
    "MISSING_TRIGGER": "date its clock needs is missing",
    "IMPLAUSIBLE_DATE": "implausible date",
    "UNREADABLE_DATE": "date the store holds in an unreadable form",
    "UNREADABLE_VALUE": "value the store holds in an unreadable form",
    "DUPLICATE_ID": "two case rows share its id",
    "NO_RULE": "no schedule rule for its type",
    "CHAIN": "another case in its re-referral chain is kept",
}
_WHAT_APPROVING_DOES = {
    "destroy": "the case's rows (notes, documents, sharing records, consents, memberships) are deleted from the "
               "store, every stored version of its documents is deleted, and a keyed tombstone is kept so a copy "
               "restored from backup is found and destroyed again",
    "anonymise": "a statistical skeleton is kept (case type, years opened and closed, age band, outcome code: no "
                 "names, ids or text), then the case is destroyed exactly as above",
}


def review_markdown(*, store: str, as_of: date, batch_id: str, chunks: int, rule_actions: Counter,
                    by_class: dict, by_status: dict, reasons: dict, earlier: list[dict]) -> str:
    """Markdown for Airflow's Required Actions page (and ``batch show``)."""
    cases = sum(rule_actions.values())
    by_action = Counter()
    for (_rule, action), n in rule_actions.items():
        by_action[action] += n
    lines = [
        f"**Store** `{store}`, retention clocks judged as of **{as_of.isoformat()}**, batch `{batch_id}`.",
        "",
        f"**{cases} cases** due, in {chunks} chunks: "
        + ", ".join(f"**{n} to {'destroy' if a == 'destroy' else 'anonymise'}**" for a, n in sorted(by_action.items()))
        + ". Nothing else is touched.",
        "",
        "| class | cases |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(by_class.items())],
        "",
        "| rule | action | cases |", "|---|---|---|",
        *[f"| {rule} | {action} | {n} |" for (rule, action), n in sorted(rule_actions.items())],
        "",
        "**Approving**, for each case:",
        *[f"- *{action}*: {_WHAT_APPROVING_DOES.get(action, action)}." for action in sorted(by_action)],
        "- then the run verifies that nothing of them remains and issues a destruction certificate.",
        "",
        "Holds, access requests and quarantine in force **when each chunk runs** still win: such a case is kept "
        "and listed as held back in the batch, the ledger and the certificate.",
        "",
        "**Rejecting** destroys nothing; give the reason in the form. The cases are not proposed again until the "
        "rejection is lifted (`governance retention rejection lift`) or expires.",
        "",
    ]
    not_due = [f"{label} {reasons[code]}" for code, label in NOT_DUE_REASONS.items() if reasons.get(code)]
    running = by_status.get("not_due", 0) - sum(reasons.get(code, 0) for code in NOT_DUE_REASONS)
    if running > 0:
        not_due.insert(0, f"retention period still running {running}")
    lines.append(f"**Not due yet** (not in the batch): {by_status.get('not_due', 0)} cases"
                 + (f" ({', '.join(not_due)})" if not_due else "") + ".")
    kept = [f"{label} {reasons[code]}" for code, label in EXCLUSION_LABELS.items() if reasons.get(code)]
    lines.append(f"**Kept back by a safety rule or a data problem** (not in the batch): "
                 f"{by_status.get('excluded', 0)} cases" + (f" ({', '.join(kept)})" if kept else "") + ".")
    if by_status.get("review"):
        lines.append(f"**For manual review** (never destroyed automatically): {by_status['review']} cases.")
    if earlier:
        lines += ["", "**Earlier decisions on these cases:**",
                  *[f"- batch `{e['batch_id']}` rejected by {e['rejected_by']} ({e['cases']} cases): "
                    f"\"{e['reason']}\"; " + (f"lifted by {e['lifted_by']}: \"{e['lift_reason']}\""
                                               if e.get("lifted_by") else f"expired {e['expires_on']}")
                    for e in earlier]]
    lines += ["", f"Details: `governance retention batch show {batch_id}`."]
    return "\n".join(lines)
