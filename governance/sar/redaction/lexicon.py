"""Word lists the name recogniser reads: given names, short forms, and the words around names.

- Given names: ``data/given_names_gb.txt`` (hand-compiled, common in England and Wales) and every
  name in the ``nicknames`` package's dataset (Apache-2.0, hand-curated English given names and
  their diminutives), plus ``data/diminutives_gb.txt`` for British short forms it lacks (Daz for
  Darren, Shaz for Sharon, Kev for Kevin).
- ``data/everyday_names.txt``: names that are also words (Grace, May, Summer, Will): a person only
  with evidence.
- Cue words: titles, relationships (partner, neighbour, nan, MGM...), roles that mark a
  professional acting in role (social worker, HV, DSL, PC...), and the words that make a
  capitalised run an organisation or a place (Primary, Academy, Road, Centre...).

Everything is lower case and loaded once per process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["given_names", "everyday_names", "diminutives", "TITLES", "RELATIONS", "ROLES", "ORG_WORDS",
           "STOP_WORDS", "ACRONYMS", "CALENDAR"]

_DATA = Path(__file__).with_name("data")


def _lines(name: str) -> list[str]:
    text = (_DATA / name).read_text(encoding="utf-8")
    return [line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def diminutives() -> dict[str, frozenset[str]]:
    """Canonical given name -> its short forms (both directions: a short form maps to its full names)."""
    from nicknames import name_triplets

    pairs: set[tuple[str, str]] = {(t.name1.lower(), t.name2.lower()) for t in name_triplets()}
    for line in _lines("diminutives_gb.txt"):
        canonical, *shorts = [x.strip() for x in line.split(",")]
        pairs.update((canonical, s) for s in shorts if s)
    out: dict[str, set[str]] = {}
    for full, short in pairs:
        out.setdefault(full, set()).add(short)
        out.setdefault(short, set()).add(full)
    return {k: frozenset(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    return frozenset(_lines("given_names_gb.txt")) | frozenset(diminutives())


@lru_cache(maxsize=1)
def everyday_names() -> frozenset[str]:
    return frozenset(_lines("everyday_names.txt"))


TITLES = ("mr", "mrs", "ms", "miss", "mx", "mstr")
# Relationship words: the name that follows (or precedes, in apposition) is a private person.
RELATIONS = (
    "partner", "ex-partner", "ex partner", "boyfriend", "girlfriend", "bf", "gf", "husband", "wife", "ex-husband",
    "ex-wife", "ex", "fiance", "fiancee", "neighbour", "neighbor", "nan", "nana", "nanna", "nanny", "gran",
    "granny", "grandma", "grandad", "granddad", "grandpa", "grandmother", "grandfather", "uncle", "aunt",
    "auntie", "aunty", "cousin", "friend", "mate", "bestie", "brother", "sister", "half-brother", "half-sister",
    "stepdad", "step-dad", "stepmum", "step-mum", "stepfather", "stepmother", "sister-in-law", "brother-in-law",
    "lodger", "son", "daughter", "niece", "nephew", "godmother", "godfather", "babysitter", "landlord",
    "landlady", "mgm", "mgf", "pgm", "pgf", "ciocia", "wujek",
)
# Roles: a name next to one of these is a professional acting in role (kept).
ROLES = (
    "social worker", "sw", "health visitor", "hv", "teacher", "class teacher", "head teacher", "headteacher",
    "head of year", "hoy", "dsl", "ddsl", "senco", "school nurse", "nurse", "gp", "dr", "doctor", "midwife",
    "paediatrician", "family support worker", "fsw", "early help worker", "ehw", "family worker", "pc", "dc",
    "ds", "di", "police officer", "officer", "idva", "isva", "yot worker", "probation officer", "housing officer",
    "team manager", "tm", "practice manager", "camhs worker", "practitioner", "key worker", "support worker",
    "youth worker", "recovery worker", "iro", "chair", "cp chair", "conference chair", "pastoral lead",
    "pastoral", "learning mentor", "attendance officer", "advocate", "solicitor", "interpreter", "volunteer",
    "coordinator", "co-ordinator", "manager", "coach", "counsellor", "therapist", "worker", "lead", "dslead",
    "head", "ht", "dht", "senior", "consultant", "psychologist", "ep", "ssw", "asw", "nqsw", "lado", "mash",
)
# A capitalised run ending in (or containing) one of these names an organisation or a place.
ORG_WORDS = frozenset("""
primary academy school college university nursery surgery centre center hospital clinic practice trust council
police service services team unit group project foundation housing homes association partnership board health
camhs nhs church chapel mosque temple gurdwara synagogue library hub house court road street st lane close
avenue drive way crescent gardens place terrace grove walk rise view mews square hill row park estate green
parade fields field leisure club rovers united town city fc abc aid care network federation infants juniors
high junior infant community children's childrens hall ward station bank market retail shops shop
law act programme scheme syndrome
""".split())
# Words that never start or continue a name.
STOP_WORDS = frozenset("""
a an the and or but if of in on at to for from by with without about into onto over under after before
is was are were be been being has had have do does did will would can could may might must shall should
not no yes he she they we i you it his her their our my your its him them us me this that these those
there here then than so as also very just only still again all any some each every both either neither
said says told asked rang called phoned texted emailed came went left arrived seen spoke met visited
who whom whose which what when where why how mum dad mam mom mother father parent parents child children
baby family home school today yesterday tomorrow tonight morning afternoon evening night week weekend
mr mrs ms miss dr ok okay
""".split())
# Abbreviations that look like initials but are words of the trade.
ACRONYMS = frozenset("""
SW HV CP CIN TAF MGM MGF PGM PGF GP DSL FSW EH TM PC DC DS DI DV AA NA IRO ICPC RCPC MASH MARAC DASH CSE CCE
YOT SEN SENCO EHCP ASD ADHD PE PS NB ASAP TC HT DHT SLT LA LAC CLA NHS A&E ED UK ID DOB RHI IDVA ISVA CAMHS
EP OT SALT HR NI IT TV FIFA PTSD MH PA DOB CAD CPS BBC KS IEP PSP EHA CAF CIN WHO ICO AM PM QA
""".split())
CALENDAR = frozenset("""
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday christmas easter eid diwali ramadan hanukkah
""".split())
