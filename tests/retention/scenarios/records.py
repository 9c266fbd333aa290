"""The scenarios: one retention rule per case, the expected outcome written beside it.

Judged as of 5 December 2026 with the built-in schedule. The arithmetic in each
comment follows ``/work/shared/domain.md``: early help 5 years from closure;
Home-Start 1 year, 6 with child-protection concerns or social-care involvement;
children in need until every subject child is 18 *and* 3 years without
activity; child protection 35 years from closure / last contact; looked-after
children to the 75th birthday, or 15 years from a death before 18; adoption
100 years from the order; LADO 10 years if unfounded, else 100. A period of N
years from a date runs out on its N-th anniversary (29 February -> 1 March).
Longest wins; holds, pending access requests and quarantine keep a case; a
re-referral chain goes only when all of it can; unreadable dates exclude.
Everyone here is fictional.
"""

from __future__ import annotations

from datetime import date, datetime

from tests.retention.scenarios.model import C, Doc, Expect, H, K, N, P, Scenario, Share

AS_OF = date(2026, 12, 5)
d = date.fromisoformat



# Households: (name, address, made-up postcode).
def _home(surname: str, n: int) -> dict:
    return {"home": (f"{surname} household", f"{n} Larkspur Row, Eastwick", f"ZX{n % 9 + 1} {n % 7 + 2}QT")}


def _eh_notes(opened: date, closed: date | None, child: str = "the children") -> tuple[N, ...]:
    notes = [N(opened, "Initial home visit", f"Met mum at home with {child}. Talked through what early help is and "
                                             "agreed a family plan: school attendance and a bedtime routine. "
                                             "Privacy notice shared with family.")]
    if closed:
        notes.append(N(closed, "Closure summary", "Plan reviewed with mum: goals met, attendance now 96%. Family "
                                                  "happy to close; signposted to the children's centre stay-and-play."))
    return tuple(notes)


def _family(key: str, surname: str, n: int, child_dob: date | None = d("2012-04-17"), **child) -> dict:
    """A mum and one child: the usual early-help household."""
    mum_born = child_dob.replace(year=child_dob.year - 27, day=2) if child_dob else d("1986-09-02")
    return {"homes": _home(surname, n),
            "people": (P("mum", f"Sharon {surname}", "parent_carer", mum_born),
                       P("child", f"Jayden {surname}", "subject_child", child_dob, **child))}


def eh(key: str, rule: str, n: int, surname: str, expect: Expect, *, opened=d("2014-09-08"), closed=None,
       **case) -> Scenario:
    """An early-help scenario: one household, one case."""
    notes = case.pop("notes", None)
    extra = {k: case.pop(k) for k in ("holds", "access_requests", "quarantined") if k in case}
    return Scenario(key, rule, **_family(key, surname, n), cases=(
        C(key, "early_help", opened, closed, members=("child", "mum"),
          notes=_eh_notes(opened, closed, f"Jayden") if notes is None else notes, **case),),
        expect={key: expect}, **extra)


_CLAIM = H("litigation", "County Court claim K00ZX123 (fictional)", "claim against the council about support given",
           {"case_ids": ["EH12"]}, d("2026-10-01"), d("2027-10-01"))

EARLY_HELP = [
    eh("EH01", "five years from closure have run: due", 1, "Okafor",
       Expect("due", "early_help", d("2026-06-30")), opened=d("2019-11-04"), closed=d("2021-06-30")),
    eh("EH02", "due on the fifth anniversary of closure itself", 2, "Lindqvist",
       Expect("due", "early_help", d("2026-12-05")), opened=d("2020-01-13"), closed=d("2021-12-05")),
    eh("EH03", "one day short of five years: not yet due, and the date it will be", 3, "Mahmood",
       Expect("not_due", "early_help", d("2026-12-06"), ("CLOCK_RUNNING",)), opened=d("2020-03-02"),
       closed=d("2021-12-06")),
    eh("EH04", "closed on 29 February: five years run on 1 March", 4, "Fairweather",
       Expect("due", "early_help", d("2025-03-01")), opened=d("2019-06-10"), closed=d("2020-02-29")),
    eh("EH05", "an open case is never due", 5, "Kowalczyk",
       Expect("not_due", "early_help", None, ("OPEN",)), opened=d("2023-09-11")),
    eh("EH06", "a closed case reopened is not due", 6, "Achterberg",
       Expect("not_due", "early_help", None, ("REOPENED",)), opened=d("2018-02-05"), closed=d("2019-04-30"),
       reopened=d("2024-03-01"), status="open"),
    eh("EH07", "reopened and closed again: the clock runs from the second closure (not quarantined)", 7, "Danso",
       Expect("due", "early_help", d("2024-11-20")), opened=d("2016-01-12"), closed=d("2019-11-20"),
       reopened=d("2018-04-16")),
    eh("EH08", "closed with no closure date: excluded, never guessed", 8, "Petrenko",
       Expect("excluded", "early_help", None, ("MISSING_TRIGGER:closed_on",)), opened=d("2015-05-18"),
       status="closed"),
    eh("EH09", "closure before opening (dates swapped on entry): excluded", 9, "Yildiz",
       Expect("excluded", "early_help", None, ("IMPLAUSIBLE_DATE:closed_before_opened",)),
       opened=d("2019-06-01"), closed=d("2019-01-10")),
    eh("EH10", "closure dated in the future: excluded", 10, "Whitlock",
       Expect("excluded", "early_help", None, ("IMPLAUSIBLE_DATE:closed_on_in_future",)),
       opened=d("2025-02-03"), closed=d("2027-01-15")),
    eh("EH11", "reopened before it was opened (a year keyed wrong): excluded, as data quality quarantines it", 11,
       "Baptiste", Expect("excluded", "early_help", None, ("IMPLAUSIBLE_DATE:reopened_before_opened",)),
       opened=d("2018-05-01"), closed=d("2019-02-01"), reopened=d("2017-03-01")),
    eh("EH12", "a litigation hold keeps a due case", 12, "Gallagher",
       Expect("excluded", "early_help", d("2024-07-19"), ("HOLD:claim",)), opened=d("2017-10-02"),
       closed=d("2019-07-19"), holds={"claim": _CLAIM}),
    eh("EH13", "a pending access request from the mother keeps the case (DPA 2018 s.173)", 13, "Novak",
       Expect("excluded", "early_help", d("2024-03-08"), ("SAR_PENDING",)), opened=d("2017-04-24"),
       closed=d("2019-03-08"), access_requests=(("mum", "received"),)),
    eh("EH14", "an access request already delivered no longer keeps it", 14, "Osei",
       Expect("due", "early_help", d("2024-05-31")), opened=d("2018-01-08"), closed=d("2019-05-31"),
       access_requests=(("mum", "delivered"),)),
    eh("EH15", "a quarantined note keeps its case out of every batch", 15, "Harrington",
       Expect("excluded", "early_help", d("2023-09-14"), ("QUARANTINED",)), opened=d("2016-11-21"),
       closed=d("2018-09-14"), quarantined=(("EH15", "EH15-N0", "casenote.written_on.not_in_future"),)),
    eh("EH16", "a hold on the household keeps its case", 16, "Ferreira",
       Expect("excluded", "early_help", d("2023-02-28"), ("HOLD:household",)), opened=d("2016-03-14"),
       closed=d("2018-02-28"),
       holds={"household": H("other", "Local Government Ombudsman complaint 25 012 345 (fictional)",
                             "complaint about the service to the family", {"family_ids": ["home"]},
                             d("2026-06-01"), d("2027-06-01"))}),
    eh("EH17", "a hold lifted is no longer in force", 17, "Quinlan",
       Expect("due", "early_help", d("2023-12-01")), opened=d("2016-06-06"), closed=d("2018-12-01"),
       holds={"lifted": H("litigation", "Claim settled (fictional)", "disclosure for a claim, now settled",
                          {"case_ids": ["EH17"]}, d("2022-01-10"), d("2024-01-10"), lifted_on=d("2025-02-14"))}),
    eh("EH18", "a hold on a person covers every case they are on", 18, "Sandoval",
       Expect("excluded", "early_help", d("2024-08-16"), ("HOLD:person",)), opened=d("2017-09-25"),
       closed=d("2019-08-16"),
       holds={"person": H("litigation", "Family court proceedings ZX25C00999 (fictional)",
                          "mother is a party; records may be ordered", {"person_ids": ["mum"]},
                          d("2026-09-01"), d("2027-03-01"))}),
    # Dates as real case-management systems store them: DATETIME text, day-first text, zero dates.
    eh("EH20", "a closure stored as a date-time ('2021-06-30 00:00:00') is read as 30 June 2021", 20, "Adeyemi",
       Expect("due", "early_help", d("2026-06-30")), opened=d("2019-04-01"), closed=d("2021-06-30"),
       raw={"closed_on": "2021-06-30 00:00:00"}),
    eh("EH21", "closed late on 5 Dec 2021: due on 5 Dec 2026 (as text it sorts after '2021-12-05')", 21, "Moreau",
       Expect("due", "early_help", d("2026-12-05")), opened=d("2020-05-05"), closed=d("2021-12-05"),
       raw={"closed_on": "2021-12-05 23:59:00"}),
    eh("EH22", "a date-time closure one day short: not yet due", 22, "Kaminski",
       Expect("not_due", "early_help", d("2026-12-06"), ("CLOCK_RUNNING",)), opened=d("2020-05-11"),
       closed=d("2021-12-06"), raw={"closed_on": "2021-12-06T08:00:00"}),
    eh("EH23", "a day-first closure date ('30/06/2021') is unreadable: excluded, the store goes on", 23, "Brennan-Hay",
       Expect("excluded", "early_help", None, ("UNREADABLE_DATE:case.closed_on",)), opened=d("2019-02-18"),
       closed=d("2021-06-30"), raw={"closed_on": "30/06/2021"}),
    eh("EH24", "a zero date ('0000-00-00') is unreadable: excluded", 24, "Ilunga",
       Expect("excluded", "early_help", None, ("UNREADABLE_DATE:case.closed_on",)), opened=d("2016-08-08"),
       closed=d("2018-08-08"), raw={"closed_on": "0000-00-00"}),
    eh("EH25", "free text in the closure date is unreadable: excluded", 25, "Thornbury",
       Expect("excluded", "early_help", None, ("UNREADABLE_DATE:case.closed_on",)), opened=d("2016-01-04"),
       closed=d("2018-01-04"), raw={"closed_on": "not a date"}),
    eh("EH26", "an empty closure date is unreadable, not missing: excluded", 26, "Abara",
       Expect("excluded", "early_help", None, ("UNREADABLE_DATE:case.closed_on",)), opened=d("2016-02-01"),
       closed=d("2018-02-01"), raw={"closed_on": ""}),
    eh("EH27", "a UTC time late on 30 June is 1 July in the council's records (BST)", 27, "Ruiz",
       Expect("due", "early_help", d("2026-07-01")), opened=d("2019-03-03"), closed=d("2021-06-30"),
       raw={"closed_on": "2021-06-30T23:30:00Z"}),
]

# A case row with no id: listed as MISSING_ID (with its family), never acted on, never fatal.
NO_ID = Scenario("EH28", "a case row without an id is listed, excluded, and stops nothing", _home("Lau", 28),
                 (P("mum", "Mei Lau", "parent_carer", d("1990-01-01")),),
                 (C(None, "early_help", d("2015-01-05"), d("2017-01-05")),), expect={})


def chain(key: str, rule: str, n: int, surname: str, first: C, later: C, expect: dict, **extra) -> Scenario:
    return Scenario(key, rule, **_family(key, surname, n), cases=(first, later), expect=expect, **extra)


CHAINS = [
    chain("CH01", "a finished chain goes whole: both episodes past their clocks", 31, "Bright",
          C("CH01-A", "early_help", d("2013-09-02"), d("2015-03-20"), ("child", "mum"), _eh_notes(d("2013-09-02"), d("2015-03-20"))),
          C("CH01-B", "early_help", d("2016-05-09"), d("2019-10-01"), ("child", "mum"), _eh_notes(d("2016-05-09"), d("2019-10-01")),
            re_referral_of="CH01-A"),
          {"CH01-A": Expect("due", "early_help", d("2020-03-20")), "CH01-B": Expect("due", "early_help", d("2024-10-01"))}),
    chain("CH02", "an earlier episode waits for the re-referral's clock (and says when)", 32, "Costa",
          C("CH02-A", "early_help", d("2015-01-12"), d("2016-07-01"), ("child", "mum")),
          C("CH02-B", "early_help", d("2021-10-04"), d("2023-02-14"), ("child", "mum"), re_referral_of="CH02-A"),
          {"CH02-A": Expect("not_due", "early_help", d("2028-02-14"), ("CHAIN_NOT_DUE",)),
           "CH02-B": Expect("not_due", "early_help", d("2028-02-14"), ("CLOCK_RUNNING",))}),
    chain("CH03", "a chain with a child-protection episode is reviewed whole: its early help is not destroyed", 33,
          "Hollis",
          # Mum's own child-protection episode as a toddler, linked when her son was referred.
          C("CH03-A", "child_protection", d("1987-02-10"), d("1989-05-12"), ("mum:subject_child",),
            (N(d("1987-02-10"), "Strategy discussion", "Strategy discussion with police and health visitor after "
                                                      "a bruise was seen at nursery. Section 47 enquiries agreed."),)),
          C("CH03-B", "early_help", d("2013-01-07"), d("2016-09-30"), ("child", "mum"), re_referral_of="CH03-A"),
          {"CH03-A": Expect("review", "child_protection", d("2024-05-12")),
           "CH03-B": Expect("review", "early_help", d("2021-09-30"), ("CHAIN_REVIEW:CH03-A",))}),
    chain("CH04", "early help re-referred into child protection waits for the 35-year clock", 34, "Pryce",
          C("CH04-A", "early_help", d("2014-03-03"), d("2016-04-01"), ("child", "mum")),
          C("CH04-B", "child_protection", d("2017-01-16"), d("2020-06-30"), ("child", "mum"), re_referral_of="CH04-A",
            flags={"child_protection_concerns": True}),
          {"CH04-A": Expect("not_due", "early_help", d("2055-06-30"), ("CHAIN_NOT_DUE",)),
           "CH04-B": Expect("not_due", "child_protection", d("2055-06-30"), ("CLOCK_RUNNING",))}),
    chain("CH05", "a hold on the later episode keeps the earlier one too", 35, "Lindgren",
          C("CH05-A", "early_help", d("2013-05-13"), d("2015-01-15"), ("child", "mum")),
          C("CH05-B", "early_help", d("2017-02-06"), d("2019-03-01"), ("child", "mum"), re_referral_of="CH05-A"),
          {"CH05-A": Expect("excluded", "early_help", d("2020-01-15"), ("CHAIN:CH05-B",)),
           "CH05-B": Expect("excluded", "early_help", d("2024-03-01"), ("HOLD:inquiry",))},
          holds={"inquiry": H("inquiry", "Local safeguarding practice review 2026/04 (fictional)",
                              "review of agency involvement", {"case_ids": ["CH05-B"]}, d("2026-04-20"),
                              d("2027-04-20"))}),
    chain("CH06", "a re-referral still open keeps the earlier episode (no date yet)", 36, "Mbatha",
          C("CH06-A", "early_help", d("2015-06-01"), d("2017-08-01"), ("child", "mum")),
          C("CH06-B", "early_help", d("2025-11-03"), None, ("child", "mum"), re_referral_of="CH06-A"),
          {"CH06-A": Expect("not_due", "early_help", None, ("CHAIN_NOT_DUE",)),
           "CH06-B": Expect("not_due", "early_help", None, ("OPEN",))}),
]


def one(key: str, rule: str, n: int, surname: str, case_type: str, expect: Expect, *, people=None, members=None,
        **case) -> Scenario:
    """One household, one case of any type."""
    base = _family(key, surname, n, **case.pop("child", {}))
    if people is not None:
        base["people"] = people
    extra = {k: case.pop(k) for k in ("holds", "access_requests", "quarantined") if k in case}
    members = members or tuple(p.key for p in base["people"] if p.role != "professional")
    return Scenario(key, rule, **base, cases=(C(key, case_type, members=members, **case),), expect={key: expect},
                    **extra)


_HS_NOTES = (N(d("2023-09-05"), "Volunteer visit", "Volunteer visited; mum tired but coping, baby feeding well. "
                                                   "Went to the toddler group together."),)
HOME_START = [
    one("HS01", "Home-Start, no concerns: one year after support ended", 41, "Rahman", "home_start",
        Expect("due", "home_start", d("2025-08-30")), opened=d("2023-09-05"), closed=d("2024-08-30"), notes=_HS_NOTES,
        child={"child_dob": d("2023-02-11")}),
    one("HS02", "Home-Start with child-protection concerns: six years", 42, "Eriksen", "home_start",
        Expect("not_due", "home_start_concerns", d("2028-03-31"), ("CLOCK_RUNNING",)), opened=d("2021-04-12"),
        closed=d("2022-03-31"), flags={"child_protection_concerns": True}, child={"child_dob": d("2020-12-01")}),
    one("HS03", "Home-Start with social-care involvement: six years, now run", 43, "Oyelaran", "home_start",
        Expect("due", "home_start_concerns", d("2025-07-12")), opened=d("2018-03-19"), closed=d("2019-07-12"),
        flags={"social_care_involvement": True}, child={"child_dob": d("2017-10-30")}),
    one("HS04", "Home-Start ended this year: due next year", 44, "Villiers", "home_start",
        Expect("not_due", "home_start", d("2027-01-10"), ("CLOCK_RUNNING",)), opened=d("2025-03-03"),
        closed=d("2026-01-10"), child={"child_dob": d("2024-11-22")}),
]

_CIN_NOTE = "Child in need review meeting: plan reviewed with mum, school and CAMHS. Actions agreed."
_IICSA = H("inquiry", "IICSA preservation instruction 2015-07-02", "Independent Inquiry into Child Sexual Abuse",
           {"flags": ["csa_relevant"]}, d("2015-07-02"), d("2023-01-20"), lifted_on=d("2023-01-20"))
_STANDING = H("inquiry", "Regional inquiry into residential placements, preservation notice (fictional)",
              "inquiry still taking evidence", {"flags": ["child_protection_concerns"]}, d("2024-05-01"),
              d("2027-05-01"))


def cin(key: str, rule: str, n: int, surname: str, expect: Expect, *, dob, opened, closed, notes=None,
        raw_child_dob=None, **case):
    notes = notes if notes is not None else (N(opened, "CIN review", _CIN_NOTE),)
    return one(key, rule, n, surname, "child_in_need", expect, child={"child_dob": dob, "raw_dob": raw_child_dob},
               opened=opened, closed=closed, notes=notes, **case)


CHILD_IN_NEED = [
    cin("CIN01", "18 and three quiet years: both clocks run, anonymised", 51, "Whitfield",
        Expect("due", "child_in_need", d("2023-05-01")), dob=d("2004-03-02"), opened=d("2018-01-15"),
        closed=d("2020-05-01")),
    cin("CIN02", "quiet for years but the child is not yet 18", 52, "Nakamura",
        Expect("not_due", "child_in_need", d("2028-01-01"), ("CLOCK_RUNNING",)), dob=d("2010-01-01"),
        opened=d("2017-02-20"), closed=d("2019-06-30")),
    one("CIN03", "siblings: the younger child's 18th birthday decides (longest wins)", 53, "Adebayo", "child_in_need",
        Expect("not_due", "child_in_need", d("2029-08-19"), ("CLOCK_RUNNING",)),
        people=(P("mum", "Funmi Adebayo", "parent_carer", d("1980-01-30")),
                P("older", "Tobi Adebayo", "subject_child", d("2002-05-05")),
                P("younger", "Kemi Adebayo", "subject_child", d("2011-08-19"))),
        opened=d("2015-10-12"), closed=d("2018-03-01"), notes=(N(d("2015-10-12"), "CIN review", _CIN_NOTE),)),
    cin("CIN04", "a note written after closure is activity: three years from it", 54, "Galloway",
        Expect("not_due", "child_in_need", d("2027-06-10"), ("CLOCK_RUNNING",)), dob=d("2000-09-09"),
        opened=d("2017-05-02"), closed=d("2021-02-01"),
        notes=(N(d("2017-05-02"), "CIN review", _CIN_NOTE),
               N(d("2024-06-10"), "Phone call", "Young person rang the duty line asking for a letter confirming "
                                                "she had been known to the service, for her housing application.")),
        last_activity=d("2021-02-01")),
    cin("CIN05", "a report received after closure is activity", 55, "Hussain",
        Expect("not_due", "child_in_need", d("2027-01-20"), ("CLOCK_RUNNING",)), dob=d("2001-04-14"),
        opened=d("2016-06-13"), closed=d("2020-10-01"),
        documents=(Doc(d("2024-01-20"), "Letter from the GP practice", "Eastwick Health Centre (fictional)"),)),
    cin("CIN06", "information shared with another agency after closure is activity", 56, "Sorensen",
        Expect("not_due", "child_in_need", d("2028-03-03"), ("CLOCK_RUNNING",)), dob=d("2002-12-12"),
        opened=d("2017-03-06"), closed=d("2021-01-05"),
        shares=(Share(d("2025-03-03"), "dates the family was known", "housing", "housing application"),)),
    cin("CIN07", "no date of birth for the child: excluded, never guessed", 57, "Pickering",
        Expect("excluded", "child_in_need", None, ("MISSING_TRIGGER:date_of_birth",)), dob=None,
        opened=d("2012-01-09"), closed=d("2014-03-03")),
    cin("CIN08", "a day-first date of birth ('12/03/2003') is unreadable: excluded", 58, "Delaney",
        Expect("excluded", "child_in_need", None, ("UNREADABLE_DATE:person.date_of_birth",)), dob=d("2003-03-12"),
        opened=d("2014-02-10"), closed=d("2016-02-10"), raw_child_dob="12/03/2003"),
    cin("CIN09", "an unreadable note date ('tbc') hides the last activity: excluded", 59, "Marsh",
        Expect("excluded", "child_in_need", None, ("UNREADABLE_DATE:casenote.written_on",)), dob=d("2001-01-21"),
        opened=d("2015-09-14"), closed=d("2019-01-11"),
        notes=(N(d("2015-09-14"), "CIN review", _CIN_NOTE),
               N(d("2019-01-11"), "Visit", "Visit write-up typed up later; date to be confirmed.", raw_on="tbc"))),
    cin("CIN10", "a 1900-01-01 placeholder birth date is implausible: excluded", 60, "Oduya",
        Expect("excluded", "child_in_need", None, ("IMPLAUSIBLE_DATE:date_of_birth",)), dob=d("1900-01-01"),
        opened=d("1999-01-04"), closed=d("2001-01-04")),
    cin("CIN11", "an inquiry hold on a flag still in force keeps the flagged case", 61, "Kerr",
        Expect("excluded", "child_in_need", d("2020-11-30"), ("HOLD:standing",)), dob=d("2000-02-02"),
        opened=d("2014-04-07"), closed=d("2017-11-30"), flags={"child_protection_concerns": True},
        holds={"standing": _STANDING}),
    cin("CIN12", "IICSA's hold was lifted on 20 January 2023: the flagged case may go", 62, "Beaumont",
        Expect("due", "child_in_need", d("2021-02-14")), dob=d("2003-02-14"), opened=d("2014-06-02"),
        closed=d("2017-11-30"), flags={"csa_relevant": True}, holds={"iicsa": _IICSA}),
    cin("CIN13", "the file opened after closure for a records search is not activity", 63, "Lindsay",
        Expect("due", "child_in_need", d("2022-04-04")), dob=d("2002-07-07"), opened=d("2016-01-11"),
        closed=d("2019-04-04"), accessed=(datetime(2025, 9, 9, 14, 5),)),
    cin("CIN14", "a last-activity date after closure restarts the three years", 64, "Okonjo",
        Expect("due", "child_in_need", d("2026-09-01")), dob=d("2003-05-25"), opened=d("2016-09-05"),
        closed=d("2020-01-31"), last_activity=d("2023-09-01")),
]

_CP_NOTE = "Initial child protection conference: child made subject of a plan under neglect. Core group set up."
CHILD_PROTECTION = [
    one("CP01", "child protection closed over 35 years ago: listed for review, never destroyed", 71, "Hargreaves",
        "child_protection", Expect("review", "child_protection", d("2024-05-12")), opened=d("1987-11-02"),
        closed=d("1989-05-12"), notes=(N(d("1987-11-02"), "Conference", _CP_NOTE),),
        child={"child_dob": d("1980-06-06")}),
    one("CP02", "child protection closed in 2001: kept until 2036", 72, "Spencer", "child_protection",
        Expect("not_due", "child_protection", d("2036-10-19"), ("CLOCK_RUNNING",)), opened=d("1999-03-15"),
        closed=d("2001-10-19"), notes=(N(d("1999-03-15"), "Conference", _CP_NOTE),), child={"child_dob": d("1995-01-01")}),
    one("CP03", "35 years run from the last contact, not the closure", 73, "Ellery", "child_protection",
        Expect("not_due", "child_protection", d("2028-07-14"), ("CLOCK_RUNNING",)), opened=d("1988-02-01"),
        closed=d("1990-03-01"), child={"child_dob": d("1982-02-02")},
        notes=(N(d("1988-02-01"), "Conference", _CP_NOTE),
               N(d("1993-07-14"), "Contact after closure", "Core group meeting reconvened after a referral from "
                                                           "school; no further action agreed."))),
    one("CP04", "a court report received after closure is contact", 74, "Thackeray", "child_protection",
        Expect("not_due", "child_protection", d("2027-02-03"), ("CLOCK_RUNNING",)), opened=d("1986-05-05"),
        closed=d("1988-11-30"), child={"child_dob": d("1979-12-12")},
        documents=(Doc(d("1992-02-03"), "Report to the family court", "Children's guardian (fictional)"),)),
]

LOOKED_AFTER = [
    one("LA01", "looked-after child's 75th birthday has passed: review", 81, "Merriweather", "looked_after",
        Expect("review", "looked_after", d("2025-04-01")), opened=d("1958-01-06"), closed=d("1968-04-01"),
        child={"child_dob": d("1950-04-01")}),
    one("LA02", "looked-after child born 1962: kept to 2037", 82, "Calloway", "looked_after",
        Expect("not_due", "looked_after", d("2037-08-15"), ("CLOCK_RUNNING",)), opened=d("1970-02-02"),
        closed=d("1980-08-15"), child={"child_dob": d("1962-08-15")}),
    one("LA03", "a child who died before 18: fifteen years from death", 83, "Pemberton", "looked_after",
        Expect("review", "looked_after_died_before_18", d("2020-06-01")), opened=d("2001-03-12"),
        closed=d("2005-06-20"), child={"child_dob": d("1996-02-10"), "died": d("2005-06-01")}),
    one("LA04", "a sibling who died young does not shorten the living sibling's 75-year clock", 84, "Ashdown",
        "looked_after", Expect("not_due", "looked_after", d("2073-01-20"), ("CLOCK_RUNNING",)),
        people=(P("mum", "Tracey Ashdown", "parent_carer", d("1978-07-07")),
                P("ruby", "Ruby Ashdown", "subject_child", d("1999-03-03"), died=d("2006-10-12")),
                P("leon", "Leon Ashdown", "subject_child", d("1998-01-20"))),
        opened=d("2003-09-01"), closed=d("2007-01-31")),
    one("LA05", "died as an adult: the 75th-birthday clock still applies", 85, "Rowntree", "looked_after",
        Expect("review", "looked_after", d("2026-06-06")), opened=d("1960-01-01"), closed=d("1969-06-06"),
        child={"child_dob": d("1951-06-06"), "died": d("1990-09-09")}),
    one("LA06", "a young death can be the longest clock: an older sibling's 75th birthday passed first", 86, "Ogden",
        "looked_after", Expect("not_due", "looked_after_died_before_18", d("2030-05-05"), ("CLOCK_RUNNING",)),
        people=(P("mum", "Irene Ogden", "parent_carer", d("1960-01-01")),
                P("older", "Walter Ogden", "subject_child", d("1940-01-01")),
                P("younger", "Amy Ogden", "subject_child", d("2005-01-01"), died=d("2015-05-05"))),
        opened=d("1950-01-01"), closed=d("2015-06-30")),
]

OTHER_CLASSES = [
    one("AD01", "adoption order 2010: kept a century", 91, "Fenwick", "adoption",
        Expect("not_due", "adoption", d("2110-06-18"), ("CLOCK_RUNNING",)), opened=d("2008-02-04"),
        closed=d("2010-06-18"), order_date=d("2010-06-18"), reason="adoption order granted",
        child={"child_dob": d("2007-05-05")}),
    one("AD02", "adoption closed without its order date: excluded", 92, "Garside", "adoption",
        Expect("excluded", "adoption", None, ("MISSING_TRIGGER:order_date",)), opened=d("2006-01-09"),
        closed=d("2008-03-03"), reason="adoption order granted", child={"child_dob": d("2005-05-05")}),
    one("LD01", "LADO allegation unfounded, closed 2014: ten years run, review", 93, "Kingsley", "lado_allegation",
        Expect("review", "lado_unfounded", d("2024-02-01")), opened=d("2013-11-11"), closed=d("2014-02-01"),
        flags={"allegation_outcome": "unfounded"}),
    one("LD02", "LADO allegation unfounded, closed 2019: until 2029", 94, "Verity", "lado_allegation",
        Expect("not_due", "lado_unfounded", d("2029-05-20"), ("CLOCK_RUNNING",)), opened=d("2019-02-25"),
        closed=d("2019-05-20"), flags={"allegation_outcome": "unfounded"}),
    one("LD03", "LADO allegation substantiated: a hundred years", 95, "Ravensworth", "lado_allegation",
        Expect("not_due", "lado", d("2090-03-01"), ("CLOCK_RUNNING",)), opened=d("1989-10-10"),
        closed=d("1990-03-01"), flags={"allegation_outcome": "substantiated"}, child={"child_dob": d("1978-08-08")}),
]

# Destruction must leave kept cases whole (issue 12 item 10).
_HV = P("hv", "Joanne Pike", "professional", d("1979-03-03"), home=None, organisation="Eastwick Health (fictional)")
DESTRUCTION = [
    Scenario(
        "DL01", "a health visitor on a due case who wrote a note on a kept case stays",
        {"home": ("Ahmed household", "4 Quarry Lane, Eastwick", "ZX3 5QT"),
         "other": ("Brennan household", "19 Mill Rise, Eastwick", "ZX3 6QT")},
        (P("mum", "Ayesha Ahmed", "parent_carer", d("1988-08-08")),
         P("child", "Zain Ahmed", "subject_child", d("2013-01-13")), _HV,
         P("mum2", "Claire Brennan", "parent_carer", d("1991-11-11"), home="other"),
         P("child2", "Ellie Brennan", "subject_child", d("2019-04-04"), home="other")),
        (C("DL01-A", "early_help", d("2015-03-02"), d("2018-01-31"), ("child", "mum", "hv"),
           _eh_notes(d("2015-03-02"), d("2018-01-31"), "Zain")),
         C("DL01-B", "early_help", d("2022-06-06"), d("2024-05-01"), ("child2", "mum2"), home="other",
           notes=(N(d("2023-02-02"), "Joint visit", "Joint visit with the health visitor: Ellie's speech referral "
                                                     "made; mum to attend the parenting group.", author="hv"),))),
        expect={"DL01-A": Expect("due", "early_help", d("2023-01-31")),
                "DL01-B": Expect("not_due", "early_help", d("2029-05-01"), ("CLOCK_RUNNING",))},
        kept_after_sweep=(("person", "hv"), ("case", "DL01-B")),
        gone_after_sweep=(("case", "DL01-A"), ("person", "mum"), ("person", "child"), ("family", "home")),
    ),
    Scenario(
        "DL02", "a household stays while one of its members is on a kept case",
        {"home": ("Campbell household", "7 Ferry Road, Eastwick", "ZX4 1QT"),
         "new": ("Doyle household", "2 Station Court, Eastwick", "ZX4 2QT")},
        (P("mum", "Lorraine Campbell", "parent_carer", d("1975-05-05")),
         P("kyle", "Kyle Campbell", "subject_child", d("2004-12-01")),
         P("partner", "Shannon Doyle", "parent_carer", d("2005-02-02"), home="new"),
         P("baby", "Riley Doyle", "subject_child", d("2024-10-10"), home="new")),
        (C("DL02-A", "early_help", d("2015-09-07"), d("2017-06-30"), ("kyle", "mum"),
           _eh_notes(d("2015-09-07"), d("2017-06-30"), "Kyle")),
         # Kyle, now a young dad, is on his partner's household's open case; his own record says Campbell.
         C("DL02-B", "early_help", d("2025-01-06"), None, ("baby", "partner", "kyle"), home="new",
           notes=_eh_notes(d("2025-01-06"), None, "Riley"))),
        expect={"DL02-A": Expect("due", "early_help", d("2022-06-30")),
                "DL02-B": Expect("not_due", "early_help", None, ("OPEN",))},
        kept_after_sweep=(("person", "kyle"), ("family", "home"), ("family", "new")),
        gone_after_sweep=(("case", "DL02-A"), ("person", "mum")),
    ),
    # A household record goes when every link to it goes with the due cases, whichever row held the link.
    Scenario(
        "DL03", "a household record opened only to file a consent form goes with the case it was signed for",
        {"home": ("Fletcher household", "11 Cooper's Yard, Eastwick", "ZX8 2QT"),
         "gran": ("Walsh household", "5 Brook Terrace, Eastwick", "ZX8 3QT")},
        (P("mum", "Donna Fletcher", "parent_carer", d("1989-02-02")),
         P("child", "Mason Fletcher", "subject_child", d("2012-07-07"))),
        # Mum signed the form at her mother's, where she and Mason were staying; the duty desk filed it under
        # a household record it opened for the grandparents' address. Nothing else was ever filed there.
        (C("DL03-A", "early_help", d("2016-04-11"), d("2018-03-29"), ("child", "mum"),
           _eh_notes(d("2016-04-11"), d("2018-03-29"), "Mason"), consents=(K(d("2016-04-11"), "mum", "gran"),)),),
        expect={"DL03-A": Expect("due", "early_help", d("2023-03-29"))},
        gone_after_sweep=(("case", "DL03-A"), ("person", "mum"), ("family", "home"), ("family", "gran")),
    ),
    Scenario(
        "DL04", "a household the due case's consent form was filed under stays while its own case is kept",
        {"home": ("Nowak household", "8 Rope Walk, Eastwick", "ZX9 1QT"),
         "aunt": ("Reid household", "30 Glebe Avenue, Eastwick", "ZX9 2QT")},
        (P("mum", "Agnieszka Nowak", "parent_carer", d("1987-10-10")),
         P("child", "Oliver Nowak", "subject_child", d("2011-03-03")),
         P("aunt", "Beata Reid", "parent_carer", d("1984-06-06"), home="aunt"),
         P("cousin", "Lily Reid", "subject_child", d("2017-01-20"), home="aunt")),
        (C("DL04-A", "early_help", d("2015-01-12"), d("2017-11-30"), ("child", "mum"),
           _eh_notes(d("2015-01-12"), d("2017-11-30"), "Oliver"), consents=(K(d("2015-01-12"), "mum", "aunt"),)),
         C("DL04-B", "early_help", d("2025-09-01"), None, ("cousin", "aunt"), home="aunt",
           notes=_eh_notes(d("2025-09-01"), None, "Lily"))),
        expect={"DL04-A": Expect("due", "early_help", d("2022-11-30")),
                "DL04-B": Expect("not_due", "early_help", None, ("OPEN",))},
        kept_after_sweep=(("family", "aunt"), ("person", "aunt"), ("case", "DL04-B")),
        gone_after_sweep=(("case", "DL04-A"), ("person", "mum"), ("family", "home")),
    ),
    Scenario(
        "DL05", "a dad living elsewhere goes with the only case he was on, and his household record with him",
        {"home": ("Price household", "6 Saddlers Walk, Eastwick", "ZX1 7QT"),
         "dad": ("Harding household", "17 Kiln Lane, Eastwick", "ZX1 8QT")},
        (P("mum", "Kerry Price", "parent_carer", d("1990-12-12")),
         P("child", "Ruby Price", "subject_child", d("2013-05-15")),
         P("dad", "Lee Harding", "parent_carer", d("1988-04-04"), home="dad")),
        (C("DL05-A", "early_help", d("2016-09-05"), d("2019-02-28"), ("child", "mum", "dad"),
           _eh_notes(d("2016-09-05"), d("2019-02-28"), "Ruby")),),
        expect={"DL05-A": Expect("due", "early_help", d("2024-02-28"))},
        gone_after_sweep=(("case", "DL05-A"), ("person", "dad"), ("family", "home"), ("family", "dad")),
    ),
]

SCENARIOS: list[Scenario] = [*EARLY_HELP, NO_ID, *CHAINS, *HOME_START, *CHILD_IN_NEED, *CHILD_PROTECTION,
                             *LOOKED_AFTER, *OTHER_CLASSES, *DESTRUCTION]
