"""``governance store``: inspect configured case stores and their mappings.

``store check`` is the check to run before any job: every mapped table and column
must exist, and every value must be readable as its logical type by the rule the
jobs use (dates, yes/no values, codes, ids). It prints counts per column and
problem, never a value, with the date and yes/no forms the platform accepts; it
exits 0 when every store is clean, 1 when it found problems (a missing table or
column fails every job; unreadable values exclude their records from every
action), 2 on an error such as an unreachable database.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from governance.cli._common import add_json_flag, emit, settings_from

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("store", help="inspect case stores and their mappings",
                                 description="Inspect configured case stores and their mappings.")
    sub = parser.add_subparsers(dest="store_command", metavar="SUBCOMMAND", required=True)

    check = sub.add_parser("check", help="check each store's mapping and values against its database",
                           description="Check that every mapped table and column exists and that every value can be "
                                       "read as its logical type (dates, yes/no, codes, ids): counts per column and "
                                       "problem, never the values. Exit 1 if any problem is found.")
    check.add_argument("--store", default=None, help="only this store")
    add_json_flag(check)
    check.set_defaults(handler=run_check)

    counts = sub.add_parser("counts", help="rows per logical entity in each store",
                            description="Count rows per logical entity (family, person, case, ...) in each store.")
    counts.add_argument("--store", default=None, help="only this store")
    add_json_flag(counts)
    counts.set_defaults(handler=run_counts)

    mapping = sub.add_parser("mapping", help="validate a mapping file",
                             description="Validate a mapping (built-in name or TOML path) without touching a database.")
    mapping.add_argument("mapping", help="built-in mapping name (reference, homestart) or path to a TOML file")
    add_json_flag(mapping)
    mapping.set_defaults(handler=run_mapping)


def _stores(args):
    """The stores to inspect. Inspecting never creates: a SQLite store that is not there is an error."""
    from sqlalchemy.engine import make_url

    from governance.errors import StoreUnavailable
    from governance.stores.mapping import load_mapping
    from governance.stores.store import CaseStore

    settings = settings_from(args)
    configs = [settings.store(args.store)] if args.store else list(settings.stores)
    for config in configs:
        load_mapping(config.mapping)  # a broken mapping is the first thing to hear about
        try:
            url = make_url(config.url)
        except Exception:  # noqa: BLE001 - make_engine reports a malformed URL in one line
            continue
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and "mode=" not in str(url.query) and not Path(url.database).is_file():
            raise StoreUnavailable(f"store {config.name}: no database at {url.database} "
                                   f"(seed it, or set GOVERNANCE_STORE_{config.name.upper()}_URL)")
    return [CaseStore.open(c) for c in configs]


def run_check(args: argparse.Namespace) -> int:
    from governance.stores.values import BOOL_FORMATS_ACCEPTED, DATE_FORMATS_ACCEPTED

    results = []
    for store in _stores(args):
        missing = store.schema_problems()
        problems = [*missing, *store.value_problems(skip=missing)]
        results.append({"store": store.name, "mapping": store.mapping.name, "entities": sorted(store.mapping.entities),
                        "ok": not problems, "problems": [p.to_json() for p in problems],
                        "messages": [p.describe() for p in problems]})
    accepted = {"dates": list(DATE_FORMATS_ACCEPTED), "booleans": list(BOOL_FORMATS_ACCEPTED)}
    emit(args, {"stores": results, "accepted": accepted}, _check_text)
    return 0 if all(r["ok"] for r in results) else 1


def _check_text(r: dict) -> str:
    lines = []
    for s in r["stores"]:
        if s["ok"]:
            lines.append(f"{s['store']}: mapping {s['mapping']} matches the database ({len(s['entities'])} entities); "
                         "every value is readable")
        else:
            lines.append(f"{s['store']}: mapping {s['mapping']}: {len(s['problems'])} problem(s)")
            lines.extend(f"  {line}" for line in s["messages"])
    lines.append("accepted dates: " + "; ".join(r["accepted"]["dates"]))
    lines.append("accepted yes/no: " + "; ".join(r["accepted"]["booleans"]))
    return "\n".join(lines)


def run_counts(args: argparse.Namespace) -> int:
    results = []
    for store in _stores(args):
        store.check_schema()
        results.append({"store": store.name, "counts": store.counts()})
    emit(args, {"stores": results}, lambda r: "\n".join(
        f"{s['store']}: " + ", ".join(f"{n} {e}" for e, n in s["counts"].items()) for s in r["stores"]))
    return 0


def run_mapping(args: argparse.Namespace) -> int:
    from governance.stores.mapping import load_mapping

    mapping = load_mapping(args.mapping)
    result = {
        "mapping": mapping.name,
        "source": mapping.source,
        "case_types": list(mapping.case_types),
        "entities": {name: {"table": e.table, "fields": len(e.columns)} for name, e in mapping.entities.items()},
    }
    emit(args, result, lambda r: f"mapping {r['mapping']} is valid: " + ", ".join(
        f"{n} -> {e['table']}" for n, e in r["entities"].items()))
    return 0
