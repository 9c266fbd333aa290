"""``governance seed``: write fictional families into a configured store."""

from __future__ import annotations

import argparse

from governance.cli._common import Progress, add_json_flag, emit, iso_date, settings_from
from governance.errors import ConfigError

__all__ = ["register"]




def register(commands: argparse._SubParsersAction) -> None:
    from governance.stores.synthetic.generator import DEFAULT_AS_OF

    parser = commands.add_parser(
        "seed",
        help="generate a fictional case store (for demos, tests, benchmarks)",
        description="Generate fictional families into a configured case store. Deterministic for a seed; "
        "deliberate defects and sharing violations are injected and counted in the manifest (unless --clean).",
    )
    parser.add_argument("--families", type=int, required=True, help="number of families to generate")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--store", default=None, help="configured store to seed (default: every configured store)")
    parser.add_argument("--as-of", type=iso_date, default=DEFAULT_AS_OF, help=f"the store's 'today' (default {DEFAULT_AS_OF})")
    parser.add_argument("--clean", action="store_true", help="no deliberate defects or violations")
    parser.add_argument("--replace", action="store_true", help="drop and regenerate a store this command seeded before")
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from governance.stores.seeding import seed_store

    if args.families < 1:
        raise ConfigError(f"--families must be at least 1, got {args.families}")
    settings = settings_from(args)
    names = [args.store] if args.store else [s.name for s in settings.stores]
    results = []
    for name in names:
        progress = Progress(f"seeding {name}", total=args.families)
        results.append(seed_store(settings, name, families=args.families, seed=args.seed, as_of=args.as_of,
                                  clean=args.clean, replace=args.replace, progress=progress.update))
    emit(args, {"stores": results}, _human)
    return 0


def _human(result: dict) -> str:
    lines = []
    for r in result["stores"]:
        verb = "already seeded" if r["reused"] else "seeded"
        rows = ", ".join(f"{n} {e}" for e, n in r["rows"].items())
        problems = sum(r["problems"].values())
        lines.append(f"{r['store']}: {verb} seed {r['seed']}, {r['families']} families: {rows}; "
                     f"{r['documents']} documents; {problems} deliberate problems")
    return "\n".join(lines)
