"""Redaction measured on the hand-written corpus (tests/sar/corpus/): recall on third parties, false redactions.

Over 300 casenotes in early-help and social-work recording style, filed in a small hand-written
store (SQLite, the reference mapping), are read through discovery, the store-wide people lookup and
every registered rule, as an access request would read them. Each third-party identifier is labelled
``[[TP:...]]`` and each string that must stay ``[[KEEP:...]]``. Targets (issue 14): recall at least
99% and false redactions at most 2%, on the notes the recogniser was tuned on and, separately, on
the held-out notes written after it was tuned.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path

import pytest

from governance.sar.discovery import Record
from governance.sar.people import KnownPeople
from governance.sar.redaction import RedactionContext, redact_records

_PATH = Path(__file__).with_name("corpus") / "load.py"
_spec = importlib.util.spec_from_file_location("sar_hand_corpus", _PATH)
corpus = importlib.util.module_from_spec(_spec)
sys.modules["sar_hand_corpus"] = corpus
_spec.loader.exec_module(corpus)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    notes = corpus.read_notes()
    spans, _, _ = corpus.run_project(tmp_path_factory.mktemp("hand"), notes)
    return notes, corpus.score(notes, spans)


def test_the_corpus_is_big_enough_and_labels_every_kind(measured) -> None:
    notes, result = measured
    assert len(notes) >= 300
    assert {n.part for n in notes} == {"tune", "holdout"}
    assert result["holdout"]["notes"] >= 75
    texts = [n.body[s:e] for n in notes for s, e, label in n.labels if label == "TP"]
    assert any(t.startswith("(0") for t in texts), "bracketed phones"
    assert any(len(t) == 2 and t.isupper() for t in texts), "initials"
    assert any("." in t and t[:2].isdigit() for t in texts), "dd.mm.yy dates of birth"


@pytest.mark.parametrize("part", ["tune", "holdout"])
def test_recall_and_false_redactions_meet_the_targets(measured, part: str) -> None:
    _, result = measured
    r = result[part]
    print(part, {k: v for k, v in r.items() if k not in ("misses", "false")})
    assert r["tp"] > 100 and r["keep"] > 50
    assert r["recall"] >= 0.99, f"{part}: missed {len(r['misses'])} third-party identifiers"
    assert r["false_redaction_rate"] <= 0.02, f"{part}: {len(r['false'])} must-keep strings redacted"


def _one(text: str, subject: dict, people: list[dict], others: list[dict] = ()) -> list[str]:
    record = Record("casenote", "N1", "C1", "2026-01-01", fields={"title": "", "body": text})
    context = RedactionContext(KnownPeople(subject, [subject, *people], [], others=others))
    return [text[r.start:r.end] for r in redact_records([record], context).get(record.key, [])]


SUBJECT = {"id": "S", "role": "subject_child", "given_name": "Summer", "family_name": "Reid", "family_id": "F",
           "date_of_birth": date(2012, 7, 19), "address": "2 Canal Side, Fenwick"}
MUM = {"id": "M", "role": "parent_carer", "given_name": "Karen", "family_name": "Pike", "family_id": "F",
       "date_of_birth": date(1990, 3, 3), "phone": "(020) 7946 0958"}
EX = {"id": "X", "role": "parent_carer", "given_name": "Darren", "family_name": "Cole", "family_id": "OTHER",
      "aliases": "D", "date_of_birth": date(1985, 5, 19), "address": "Flat 4, Elm House, 9 Mill Lane, Fenwick"}


def test_one_rule_per_kind_of_leak() -> None:
    cases = {
        "Her nan Pat came round.": ["Pat"],  # a relationship names an unknown person, even a word-name
        "Mrs Hendry next door complained.": ["Hendry"],  # a title
        "Kev, mum's new boyfriend, was there.": ["Kev"],  # apposition
        "KP was not at home.": ["KP"],  # the mother's initials
        "Summer enjoyed the summer holidays and May half term.": [],  # the subject's name; everyday words
        "Daz rang twice.": ["Daz"],  # short form of a name the store knows in another family
        "Call her on 020 7946 0958 or (020) 7946 0958.": ["020 7946 0958", "(020) 7946 0958"],
        "Mum's DOB 03.03.90; Summer's DOB 19/07/2012.": ["03.03.90"],
        "He now lives at flat 4 elm house 9 mill lane.": ["flat 4 elm house 9 mill lane"],
        "Darren Cole was born 19th May 1985.": ["Darren Cole", "19th May 1985"],
        "Archive box dated 19/05/1985.": [],  # another family's DOB counts only after a cue
        "Seen by health visitor Jo Marsh and SW Amy Todd.": [],  # professionals in role
        "Rose Hill Primary and St Mark's church.": [],  # organisations and places
    }
    mum = {**MUM, "given_name": "Karen", "family_name": "Pike"}
    for text, expected in cases.items():
        got = _one(text, SUBJECT, [{**mum, "given_name": "Kelly"} if "KP" in text else mum], [EX])
        assert got == expected, text


def test_remembered_spans_equal_a_cold_reading() -> None:
    from governance.sar.redaction.memo import forget_all

    text = "Kev, mum's new boyfriend, rang from (020) 7946 0958; nan Pat was born 03.03.90."
    first = _one(text, SUBJECT, [MUM], [EX])
    assert _one(text, SUBJECT, [MUM], [EX]) == first  # remembered
    forget_all()
    assert _one(text, SUBJECT, [MUM], [EX]) == first == ["Kev", "(020) 7946 0958", "Pat", "03.03.90"]
    assert _one(text, SUBJECT, [{**MUM, "phone": None}], [EX]) == first  # other people: read again, same answer here
