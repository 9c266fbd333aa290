"""Every CLI command, given generated bad arguments, environments and mapping files: one line, exit 2, nothing changed.

Three generators, all against one real home (a seeded store, a ledger with
entries, state tables) on SQLite or PostgreSQL:

* **arguments**: every leaf command found in the parser, with an unknown option,
  a value its type or choices refuse, or a required argument left out;
* **values**: well-formed commands naming things that do not exist or cannot be:
  ids with SQL metacharacters, emoji, 10 KB strings; absurd numbers; missing files;
* **environments and mapping files**: a home that is a file or under /proc, bad
  store names, malformed URLs, mapping files that are not UTF-8, not TOML, not a
  mapping, or that name tables and columns the database lacks.

For each: stderr holds exactly one ``governance...`` line and no traceback, the
exit status is 2 (``store check`` reporting a mapping the database lacks exits 1
with its report: that is its answer, not a failure), and a digest of every row in
the store, ledger and state databases is unchanged.

Commands run in-process (``governance.cli.main``) for speed; the real entry point
is covered by tests/cli/test_cli_errors.py's subprocess tests.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from governance.cli import build_parser, main
from tests.property.conftest import database_digest, examples

HOSTILE_TEXT = st.one_of(
    st.sampled_from(["x'); DROP TABLE cases;--", "🦄", "x" * 10_240, "%", "../../etc/passwd", " ", "a\nb",
                     "C000000001", "sar-0000"]),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30),
)


def _leaves(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _leaves(sub, (*prefix, name))
                else:
                    yield (*prefix, name), sub


LEAVES = sorted(_leaves(build_parser()), key=lambda leaf: leaf[0])


def _bad_value(action: argparse.Action) -> str | None:
    if action.choices:
        return "not-a-choice-🦄"
    if action.type is int or action.type is float:
        return "twelve"
    name = getattr(action.type, "__name__", "")
    if name in ("iso_date", "_span"):
        return "2026-02-30"
    if name in ("_positive", "_share"):
        return "-3"
    return None


@st.composite
def bad_arguments(draw):
    path, sub = draw(st.sampled_from(LEAVES))
    options = [a for a in sub._actions if a.option_strings and a.nargs != 0 and not isinstance(a, argparse._HelpAction)]
    typed = [a for a in options if _bad_value(a) is not None]
    required = [a for a in sub._actions if a.required or (not a.option_strings and a.nargs is None)]
    kinds = ["unknown"] + (["bad_value"] if typed else []) + (["missing"] if required else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "unknown":
        return [*path, f"--zz-{draw(st.text('abcdefgh', min_size=1, max_size=6))}", "x"]
    if kind == "bad_value":
        action = draw(st.sampled_from(typed))
        return [*path, action.option_strings[-1], _bad_value(action)]
    return list(path)


DATE = "2026-06-30"


@st.composite
def bad_values(draw):
    x = draw(HOSTILE_TEXT)
    n = draw(st.sampled_from(["0", "-1", "99999999999999999999"]))
    templates = [
        ["retention", "batch", "show", x],
        ["retention", "batch", "approve", x, "--approved-by", "ig.manager"],
        ["retention", "batch", "execute", x, "--as-of", DATE, "--actor", "ig"],
        ["retention", "batch", "verify", x, "--actor", "ig"],
        ["retention", "batch", "certificate", x, "--actor", "ig"],
        ["retention", "batch", "create", "--as-of", DATE, "--created-by", "ig", "--chunk-size", n],
        ["retention", "plan", "--as-of", DATE, "--store", x],
        ["retention", "hold", "lift", x, "--lifted-on", DATE],
        ["sar", "show", "--request", x],
        ["sar", "approve", "--request", x, "--approved-by", "rm"],
        ["sar", "bundle", "--request", x, "--as-of", DATE],
        ["sar", "close", "--request", x, "--status", "closed"],
        ["sar", "lodge", "--subject", x, "--received", DATE],
        ["sar", "confirm", "--exemption", n, "--by", "rm"],
        ["sar", "open", "--package", f"/nonexistent/{x[:50]}", "--key-file", "/nonexistent/k", "--out", "o"],
        ["research", "approve", x, "--by", "board"],
        ["research", "build", x],
        ["research", "end", x],
        ["research", "certificate", x],
        ["research", "register", f"/nonexistent/{x[:50]}.toml"],
        ["sharing", "consent", "--family", x, "--on", DATE],
        ["sharing", "resolve", x, "--note", "n", "--by", "ig"],
        ["sharing", "run", "--as-of", DATE, "--privacy-notice-days", n],
        ["quality", "run", "--store", x],
        ["quality", "run", "--dormant-years", n, "--no-publish"],
        ["store", "mapping", f"/nonexistent/{x[:50]}"],
        ["store", "counts", "--store", x],
        ["audit", "verify", "--bundle", f"/nonexistent/{x[:50]}"],
        ["seed", "--families", n],
    ]
    return draw(st.sampled_from(templates))


# Commands that read settings (and every one of them must refuse a broken environment).
SETTINGS_COMMANDS = [["store", "counts"], ["store", "check"], ["retention", "plan", "--as-of", DATE], ["sar", "list"],
                     ["audit", "log"], ["quality", "quarantine", "list"], ["sharing", "findings"], ["research", "list"],
                     ["retention", "hold", "list", "--as-of", DATE], ["seed", "--families", "1"]]
STORE_COMMANDS = [["store", "counts"], ["store", "check"], ["retention", "plan", "--as-of", DATE],
                  ["sharing", "consent", "--family", "F000000000", "--on", DATE], ["seed", "--families", "1"]]
MISSING_TABLE_MAPPING = """
[store]
name = "council"
[entities.family]
table = "households"
[entities.family.columns]
id = "household_ref"
[entities.person]
table = "people"
[entities.person.columns]
id = "person_id"
family_id = "family_id"
role = "role"
given_name = "given_name"
family_name = "family_name"
[entities.case]
table = "cases"
[entities.case.columns]
id = "case_id"
family_id = "family_id"
case_type = "case_type"
status = "status"
opened_on = "opened_on_typo"
[entities.case_member]
table = "case_members"
[entities.case_member.columns]
id = "case_member_id"
case_id = "case_id"
person_id = "person_id"
role = "role"
[entities.casenote]
table = "casenotes"
[entities.casenote.columns]
id = "casenote_id"
case_id = "case_id"
written_on = "written_on"
title = "title"
body = "body"
"""


@st.composite
def bad_environments(draw, home: Path):
    kind = draw(st.sampled_from(["home_file", "home_proc", "store_name", "no_stores", "store_url", "ledger_url",
                                 "mapping_bytes", "mapping_text", "mapping_missing_table", "mapping_shape"]))
    scratch = home.parent / "scratch"
    scratch.mkdir(exist_ok=True)
    env: dict[str, str] = {}
    command = draw(st.sampled_from(SETTINGS_COMMANDS))
    if kind == "home_file":
        (scratch / "a-file").write_text("not a folder")
        env = {"GOVERNANCE_HOME": str(scratch / "a-file")}
    elif kind == "home_proc":
        env = {"GOVERNANCE_HOME": draw(st.sampled_from(["/proc/self/governance", "/proc/1", "/sys/kernel/x"]))}
    elif kind == "store_name":
        env = {"GOVERNANCE_STORES": draw(st.sampled_from(["Default", "1st", "a-b", "x" * 41, "🦄", "a b"]))}
    elif kind == "no_stores":
        env = {"GOVERNANCE_STORES": draw(st.sampled_from([",", " ", ", ,"]))}
    elif kind in ("store_url", "ledger_url"):
        (scratch / "a-file").write_text("not a folder")
        url = draw(st.sampled_from(["not a url", "sqlite:////proc/self/x.db", "nosuchdb://x",
                                    "postgresql+psycopg://nobody@127.0.0.1:9/none", f"sqlite:///{scratch}/a-file/x.db"]))
        if kind == "store_url":
            env = {"GOVERNANCE_STORE_DEFAULT_URL": url}
            command = draw(st.sampled_from(STORE_COMMANDS))
        else:
            env = {"GOVERNANCE_LEDGER_URL": url}
            command = draw(st.sampled_from([["audit", "log"], ["audit", "verify"], ["sar", "list"],
                                            ["retention", "plan", "--as-of", DATE]]))
    else:
        mapping = scratch / f"mapping-{draw(st.integers(0, 9))}.toml"
        if kind == "mapping_bytes":
            mapping.write_bytes(b'[store]\nname = "caf\xe9"\n' + draw(st.binary(max_size=20)) + b"\xff\xfe")
        elif kind == "mapping_text":
            mapping.write_text("[store\n" + draw(st.text(max_size=40)), encoding="utf-8", errors="replace")
        elif kind == "mapping_shape":
            mapping.write_text(draw(st.sampled_from([
                'store = 5', '[store]\nname = ""', '[store]\nname = "x"\ncase_types = 3',
                '[store]\nname = "x"\nschema = 7', '[store]\nname = "x"\n[entities]\nfamily = 1',
                '[store]\nname = "x"\n[entities.unicorn]\ntable = "u"'])))
        else:
            mapping.write_text(MISSING_TABLE_MAPPING)
        env = {"GOVERNANCE_STORE_DEFAULT_MAPPING": str(mapping)}
        command = draw(st.sampled_from(STORE_COMMANDS if kind != "mapping_missing_table" else STORE_COMMANDS[:3]))
    event(f"environment: {kind}")
    return kind, env, command


@pytest.fixture
def seeded_home(tmp_path, monkeypatch, request):
    """A home with a seeded store, a ledger with entries and state tables, on SQLite or PostgreSQL."""
    for key in list(os.environ):
        if key.startswith("GOVERNANCE_"):
            monkeypatch.delenv(key)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    urls = [f"sqlite:///{work / 'var' / 'stores' / 'default.db'}", f"sqlite:///{work / 'var' / 'ledger.db'}"]
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("GOVERNANCE_STORE_DEFAULT_URL", url)
        monkeypatch.setenv("GOVERNANCE_LEDGER_URL", url)
        urls = [url]
    for argv in (["seed", "--families", "3", "--clean"], ["audit", "record", "--action", "note", "--actor", "ig"],
                 ["sar", "list"], ["retention", "hold", "list", "--as-of", DATE]):
        assert main(argv) == 0, argv
    return work / "var", urls


DIALECTS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _check(argv, capsys, urls, before, *, allowed=(2,)) -> int:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert "Traceback" not in out.err, (argv, out.err)
    assert code in allowed, (argv, code, out.err[-400:])
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("governance"), (argv, out.err[-600:])
    assert [database_digest(u) for u in urls] == before, f"{argv[:4]} changed the store or ledger"
    return code


@pytest.mark.parametrize("seeded_home", DIALECTS, indirect=True)
def test_bad_arguments_are_one_line_and_change_nothing(seeded_home, capsys):
    _, urls = seeded_home
    before = [database_digest(u) for u in urls]

    @examples(ci_default=25)
    @given(argv=bad_arguments())
    def prop(argv):
        event(f"command: {' '.join(argv[:2])}")
        _check(argv, capsys, urls, before)

    prop()


@pytest.mark.parametrize("seeded_home", DIALECTS, indirect=True)
def test_bad_values_are_one_line_and_change_nothing(seeded_home, capsys):
    _, urls = seeded_home
    before = [database_digest(u) for u in urls]

    @examples(ci_default=15)
    @given(argv=bad_values())
    def prop(argv):
        event(f"command: {' '.join(argv[:2])}")
        _check(argv, capsys, urls, before)

    prop()


@pytest.mark.parametrize("seeded_home", DIALECTS, indirect=True)
def test_bad_environments_and_mappings_are_one_line_and_change_nothing(seeded_home, capsys, monkeypatch):
    home, urls = seeded_home
    before = [database_digest(u) for u in urls]

    @examples(ci_default=15)
    @given(data=st.data())
    def prop(data):
        kind, env, argv = data.draw(bad_environments(home))
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            allowed = (1, 2) if kind == "mapping_missing_table" and argv[:2] == ["store", "check"] else (2,)
            _check(argv, capsys, urls, before, allowed=allowed)

    prop()
