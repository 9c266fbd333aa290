"""The Article 15 information that goes with the data (UK GDPR Art. 15(1)-(2)).

Purposes and lawful bases (from the kinds of case the subject is on), the
categories of data found, the recipients (from the sharing log: agencies the
records were actually shared with), how long records are kept (from the
retention schedule in force), the subject's rights, the right to complain to
the ICO, where the data came from when not from the subject, and automated
decision-making (none).

The retention periods come from the schedule file
(``GOVERNANCE_RETENTION_SCHEDULE`` or ``governance/retention/schedule.toml``),
read directly as TOML; if it is absent or unreadable the values of domain.md
are used and the letter says so.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from governance.sar.discovery import Discovery

__all__ = ["article15_information", "retention_periods", "FALLBACK_RETENTION", "BUILTIN_SCHEDULE"]

BUILTIN_SCHEDULE = Path(__file__).resolve().parent.parent / "retention" / "schedule.toml"

_PURPOSES = {
    "early_help": ("early help support for your family, with your consent",
                   "UK GDPR Art. 6(1)(e) public task; Art. 9(2)(g) substantial public interest"),
    "home_start": ("home-visiting family support by a Home-Start scheme", "UK GDPR Art. 6(1)(a) consent / 6(1)(f)"),
    "child_in_need": ("assessing and meeting your needs as a child in need (Children Act 1989 s.17)",
                      "UK GDPR Art. 6(1)(e) public task; 6(1)(c) legal obligation"),
    "child_protection": ("keeping you safe from harm (Children Act 1989 s.47)",
                         "UK GDPR Art. 6(1)(c) legal obligation; 6(1)(e) public task"),
    "looked_after": ("caring for you as a looked-after child (Care Planning Regulations 2010)",
                     "UK GDPR Art. 6(1)(c) legal obligation"),
    "adoption": ("adoption and its records (Adoption and Children Act 2002)", "UK GDPR Art. 6(1)(c) legal obligation"),
    "lado_allegation": ("managing an allegation about an adult working with children",
                        "UK GDPR Art. 6(1)(e) public task"),
}
# domain.md's table, used when no schedule file can be read.
FALLBACK_RETENTION = {
    "early_help": "no longer than 5 years after the case closed",
    "home_start": "1 year after support ended; 6 years if there were child-protection concerns or social-care involvement",
    "child_in_need": "until your 18th birthday and 3 years without activity on the case",
    "child_protection": "35 years after the case closed (there is no statutory period)",
    "looked_after": "until your 75th birthday (15 years after death if a child died before 18)",
    "adoption": "at least 100 years from the adoption order",
    "lado_allegation": "100 years if substantiated or unsubstantiated; 10 years if unfounded",
}
_TRIGGER = {"closure": "after the case closed", "date_of_birth": "from the date of birth", "death": "after death",
            "last_activity": "after the last activity on the case", "order_date": "from the adoption order"}
_WHEN = {"cp_concerns_or_social_care": "if there were child-protection concerns or social-care involvement",
         "child_died_before_18": "if a child died before 18", "allegation_unfounded": "if the allegation was unfounded"}
_RIGHTS = [
    "to have inaccurate data corrected (rectification, Art. 16)",
    "to have data erased in some circumstances (Art. 17)",
    "to restrict how data is used in some circumstances (Art. 18)",
    "to object to processing based on public task or legitimate interests (Art. 21)",
]
_COMPLAINT = ("You can complain to the Information Commissioner's Office: ico.org.uk/make-a-complaint, "
              "telephone 0303 123 1113, or write to Wycliffe House, Water Lane, Wilmslow SK9 5AF.")
_CATEGORIES = {
    "person": "identity and contact details", "case": "the episodes of work with you and your family",
    "casenote": "case notes written by the professionals working with you",
    "document": "assessments, plans, reports and letters", "consent": "consent forms you or your family signed",
    "sharing_record": "records of information shared with other agencies",
    "access_log": "a log of who opened your file", "research_study": "research studies your data went into",
    "ledger_entry": "governance records of actions taken on your records",
}


def _describe(rule: dict[str, Any]) -> str:
    clocks = [f"{c['years']} years {_TRIGGER.get(c['trigger'], c['trigger'])}" for c in rule.get("clocks", [])]
    text = " and ".join(clocks) + (" (whichever is later)" if len(clocks) > 1 else "")
    return f"{text} {_WHEN[rule['when']]}" if rule.get("when") in _WHEN else text


def retention_periods(case_types: list[str], schedule_path: str | Path | None = None) -> tuple[dict[str, str], str]:
    """(case type -> period in words, where the periods come from)."""
    path = Path(schedule_path) if schedule_path else BUILTIN_SCHEDULE
    try:
        data = tomllib.loads(path.read_text("utf-8"))
        rules = data["rule"]
        periods = {}
        for case_type in case_types:
            found = [_describe(r) for r in rules if case_type in r.get("case_types", [])]
            if found:
                periods[case_type] = "; otherwise ".join(found)
        name = data.get("schedule", path.name)
        source = f"retention schedule {name}"
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        periods, source = {}, "the platform's default retention periods (schedule file not available)"
    for case_type in case_types:
        periods.setdefault(case_type, FALLBACK_RETENTION.get(case_type, "as set by the retention schedule"))
    return periods, source


def article15_information(discovery: Discovery, *, controller: str, schedule_path: str | Path | None = None) -> dict[str, Any]:
    cases = discovery.by_entity("case")
    types = sorted({c.meta.get("case_type") for c in cases if c.meta.get("case_type")})
    shares = [r for r in discovery.by_entity("sharing_record") if r.meta.get("decision") == "shared"]
    recipients = Counter(r.meta.get("recipient_agency") or "unknown" for r in shares)
    periods, retention_source = retention_periods(types, schedule_path)
    documents = discovery.by_entity("document")
    organisations = sorted({d.meta.get("author_organisation") for d in documents if d.meta.get("author_organisation")}
                           | {p.get("organisation") for p in discovery.professionals
                              if p.get("organisation") and any(n.meta.get("author_id") == p["id"]
                                                               for n in discovery.by_entity("casenote"))})
    counts = discovery.counts()
    return {
        "controller": controller,
        "purposes": [{"case_type": t, "purpose": _PURPOSES.get(t, ("case work", ""))[0],
                      "lawful_basis": _PURPOSES.get(t, ("", "UK GDPR Art. 6(1)(e) public task"))[1]} for t in types],
        "categories": [_CATEGORIES[e] for e, n in counts.items() if n and e in _CATEGORIES],
        "recipients": [{"agency": a.replace("_", " "), "times_shared": n} for a, n in sorted(recipients.items())],
        "retention": [{"case_type": t, "period": periods[t]} for t in types],
        "retention_source": retention_source,
        "rights": _RIGHTS,
        "complaint": _COMPLAINT,
        "sources": ["you and your family"] + [f"professionals and agencies: {', '.join(organisations)}"] if organisations
        else ["you and your family"],
        "automated_decision_making": "No decisions about you are made by automated means, including profiling.",
        "format_note": "Provided free of charge in a commonly used electronic form (PDF, with the same content as JSON).",
    }
