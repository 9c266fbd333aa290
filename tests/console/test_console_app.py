"""The console in-process (the FastAPI app as the API server mounts it, real JWTs from SimpleAuthManager).

Authorisation for every page and role, the changes a page makes and the ledger
entries they write, bad input, certificate checks, and the canary rule: no
personal data on any page but a request's own, nor in the console's log.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
import sqlalchemy as sa

from tests.console.scenario import CANARIES, SUBJECT_CANARIES

pytestmark = pytest.mark.filterwarnings("ignore")

PAGES = ("overview", "retention", "requests", "ledger", "quality")
SEES = {"ig": {"overview", "retention", "ledger", "quality"}, "records_management": {"requests"},
        "auditor": {"retention", "ledger"}}


def _entries(scenario, action: str) -> list:
    from governance.keys import KeyStore
    from governance.ledger import Ledger

    ledger = Ledger.open(scenario.settings.ledger_url, KeyStore(scenario.settings.keys_dir))
    try:
        return [e for e in ledger.entries() if e.action == action]
    finally:
        ledger.close()


def _existing_case_ids(scenario, n: int) -> list[str]:
    engine = sa.create_engine(scenario.settings.store("default").url)
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT case_id FROM cases ORDER BY case_id LIMIT :n"), {"n": n}).scalars().all()
    engine.dispose()
    return list(ids)


def _holds(scenario) -> list[str]:
    from governance.retention import tables
    from governance.state import state_engine

    with state_engine(scenario.settings).connect() as conn:
        return list(conn.execute(sa.select(tables.holds.c.hold_id).where(tables.holds.c.lifted_on.is_(None))).scalars())


def test_each_role_sees_its_pages_and_is_refused_the_others(console, scenario) -> None:
    client, token = console
    for role, allowed in SEES.items():
        for page in PAGES:
            response = client.get(f"/governance/{page}", headers=token(role))
            assert response.status_code == (200 if page in allowed else 403), (role, page, response.text[-300:])
        for path in (f"requests/{scenario.request_id}", f"requests/{scenario.request_id}/preview"):
            assert client.get(f"/governance/{path}", headers=token(role)).status_code == (
                200 if role == "records_management" else 403)
    assert client.get("/governance/ledger").status_code == 401
    assert client.get("/governance/ledger", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403
    # An Airflow role the map does not name gets no console page at all.
    assert client.get("/governance/", headers=token("nobody")).status_code == 403


def test_an_auditor_changes_nothing(console, scenario) -> None:
    client, token = console
    before = len(_holds(scenario))
    posts = {"retention/holds": {"kind": "litigation", "source": "x", "reason": "y", "placed_on": "2026-12-01",
                                 "review_on": "2027-01-01", "case_ids": "C00000001"},
             f"retention/holds/{scenario.hold_id}/lift": {"lifted_on": "2026-12-01"},
             "quality/release": {"store": "default", "record_ids": "C00000001", "reason": "x"},
             "quality/findings/resolve": {"store": "default", "finding_key": "x", "note": "y"},
             "requests": {"store": "default", "subject_person_id": "P000000001", "received_on": "2026-12-01"}}
    for path, form in posts.items():
        response = client.post(f"/governance/{path}", data=form, headers=token("auditor"), follow_redirects=False)
        assert response.status_code == 403, path
        assert "may not change" in response.text or "may not see" in response.text
    assert len(_holds(scenario)) == before


def test_ig_places_and_lifts_a_hold_with_the_ledger_entries(console, scenario, console_log) -> None:
    client, token = console
    first, second = _existing_case_ids(scenario, 2)  # ids typed as the CLI would take them: a hold on a gone case is refused
    form = {"kind": "litigation", "source": "Solicitors for the family", "reason": "pre-action disclosure letter",
            "placed_on": "2026-12-01", "review_on": "2027-06-01", "store": "default", "case_ids": f"{first} {second}"}
    response = client.post("/governance/retention/holds", data=form, headers=token("ig", "ig.lead"), follow_redirects=False)
    assert response.status_code == 303, response.text[-400:]
    placed = _entries(scenario, "retention.hold.placed")[-1]
    hold_id = placed.details["hold_id"]
    assert placed.actor == "console:ig.lead" and hold_id in placed.record_ids and first in placed.record_ids
    page = client.get("/governance/retention?as_of=2026-12-02", headers=token("ig")).text
    assert hold_id in page and "pre-action disclosure letter" in page

    response = client.post(f"/governance/retention/holds/{hold_id}/lift", data={"lifted_on": "2026-12-03"},
                           headers=token("ig", "ig.lead"), follow_redirects=False)
    assert response.status_code == 303
    lifted = _entries(scenario, "retention.hold.lifted")[-1]
    assert lifted.actor == "console:ig.lead" and lifted.record_ids == (hold_id,)
    assert hold_id not in client.get("/governance/retention?as_of=2026-12-04", headers=token("ig")).text
    assert hold_id not in _holds(scenario)
    assert f"placed hold {hold_id}" in console_log.text


@pytest.mark.parametrize("change, message", [
    ({"review_on": "2026-01-01"}, "review date cannot be before"),
    ({"kind": "whim"}, "hold kind must be one of"),
    ({"case_ids": "", "store": ""}, "a hold must cover something"),
    ({"source": "  "}, "a hold needs a source"),
    ({"placed_on": "31/12/2026"}, "not a date in YYYY-MM-DD form"),
    ({"store": "nowhere"}, "nowhere"),
])
def test_bad_hold_input_is_one_line_and_places_nothing(console, scenario, change, message) -> None:
    client, token = console
    before = _holds(scenario)
    form = {"kind": "inquiry", "source": "Inquiry", "reason": "preservation notice", "placed_on": "2026-12-01",
            "review_on": "2027-12-01", "store": "default", "case_ids": "C00000009", **change}
    response = client.post("/governance/retention/holds", data=form, headers=token("ig"), follow_redirects=False)
    assert response.status_code == 400
    assert message in response.text and "Traceback" not in response.text
    assert _holds(scenario) == before


def test_resolving_a_finding_writes_the_clis_entry(console, scenario) -> None:
    client, token = console
    page = client.get("/governance/quality", headers=token("ig")).text
    key = next(k for k in _open_findings(scenario))
    assert key in page
    response = client.post("/governance/quality/findings/resolve", headers=token("ig", "ig.analyst"),
                           data={"store": "default", "finding_key": key, "note": "privacy notice confirmed on file"},
                           follow_redirects=False)
    assert response.status_code == 303
    entry = _entries(scenario, "sharing.finding_resolved")[-1]
    assert entry.actor == "console:ig.analyst" and entry.record_ids == (key,)
    assert key not in _open_findings(scenario)
    # A note is required, as in the CLI.
    other = _open_findings(scenario)[0]
    refused = client.post("/governance/quality/findings/resolve", headers=token("ig"),
                          data={"store": "default", "finding_key": other, "note": " "})
    assert refused.status_code == 400 and "resolved with a note" in refused.text


def _open_findings(scenario) -> list[str]:
    from governance.sharing.findings import list_findings
    from governance.state import state_engine

    with state_engine(scenario.settings).connect() as conn:
        return [f["finding_key"] for f in list_findings(conn, status="open")]


def test_releasing_quarantine_writes_the_clis_entry(console, scenario) -> None:
    from governance.quality.quarantine import active_rows
    from governance.state import state_engine

    client, token = console
    row = active_rows(state_engine(scenario.settings), "default")[0]
    response = client.post("/governance/quality/release", headers=token("ig", "ig.analyst"), follow_redirects=False,
                           data={"store": "default", "rule": row["expectation"], "record_ids": row["record_id"],
                                 "reason": "closure date corrected in the source system"})
    assert response.status_code == 303
    entry = _entries(scenario, "quality.released")[-1]
    assert entry.actor == "console:ig.analyst" and row["record_id"] in entry.record_ids
    assert all(r["id"] != row["id"] for r in active_rows(state_engine(scenario.settings), "default"))


def test_a_downloaded_certificate_verifies_and_a_changed_one_does_not(console, scenario) -> None:
    from governance.stores.seeding import open_objects

    client, token = console
    for kind in ("pdf", "json"):
        response = client.get(f"/governance/retention/certificates/{scenario.certified_batch}.{kind}", headers=token("auditor"))
        assert response.status_code == 200
        stored = open_objects(scenario.settings).get(f"retention/certificates/{scenario.certified_batch}.{kind}")
        assert response.content == stored
        checked = client.post("/governance/ledger/check", headers=token("auditor"),
                              files={"upload": (f"cert.{kind}", response.content)})
        assert checked.status_code == 200 and "vouched for by the ledger" in checked.text
        assert "NOT vouched" not in checked.text
    changed = json.loads(stored)
    changed["counts"]["destroyed"] += 1
    checked = client.post("/governance/ledger/check", headers=token("auditor"),
                          files={"upload": ("cert.json", json.dumps(changed).encode())})
    assert "NOT vouched for by the ledger" in checked.text
    assert client.get("/governance/retention/certificates/../../keys.json", headers=token("auditor")).status_code in (400, 404)


def test_ledger_page_shows_the_signed_tree_head_and_checks_receipts(console, scenario) -> None:
    """Issue 13 on the page: the newest signed tree head, and a receipt checked offline (a tampered one fails)."""
    from governance.keys import KeyStore
    from governance.ledger import Ledger
    from governance.ledger.receipt import receipt_for

    client, token = console
    ledger = Ledger.open(scenario.settings.ledger_url, KeyStore(scenario.settings.keys_dir))
    try:
        receipt = receipt_for(ledger, [1, 3])
        head = ledger.checkpoints()[-1]
    finally:
        ledger.close()
    page = client.get("/governance/ledger", headers=token("auditor")).text
    assert 'id="signed-head"' in page and f"<code>{head.root}</code>" in page and f"<code>{head.key_id}</code>" in page
    assert f"{head.size} entries" in page and "not checked in this build" not in page

    def check(document: dict) -> str:
        response = client.post("/governance/ledger/check", headers=token("auditor"),
                               files={"upload": ("receipt.json", json.dumps(document).encode())})
        assert response.status_code == 200
        return response.text

    good = check(receipt)
    assert "ledger receipt" in good and "vouched for by the ledger" in good and "NOT vouched" not in good
    assert "receipt OK: entries 1, 3" in good
    tampered = json.loads(json.dumps(receipt))
    body = json.loads(tampered["entries"][1]["body"])
    body["actor"] = "cli:someone.else"  # the entry says another person did it
    tampered["entries"][1]["body"] = json.dumps(body, sort_keys=True, separators=(",", ":"))
    bad = check(tampered)
    assert "NOT vouched for by the ledger" in bad and "receipt INVALID" in bad
    resigned = json.loads(json.dumps(receipt))
    resigned["tree_head"]["root"] = "0" * 64  # a different tree under the same signature
    assert "NOT vouched for by the ledger" in check(resigned)


def test_ledger_export_is_a_bundle_that_verifies(console, scenario, tmp_path) -> None:
    from governance.ledger.bundle import verify_bundle

    client, token = console
    response = client.get("/governance/ledger/export", headers=token("auditor"))
    assert response.status_code == 200
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path)
    (folder,) = tmp_path.iterdir()
    assert verify_bundle(folder).ok


def test_cookie_changes_from_another_origin_are_refused(console, scenario) -> None:
    client, token = console
    jwt = token("ig")["Authorization"].split()[1]
    response = client.post("/governance/retention/holds", data={"kind": "other"}, cookies={"_token": jwt},
                           headers={"Origin": "http://attacker.example"}, follow_redirects=False)
    assert response.status_code == 403 and "another origin" in response.text
    client.cookies.clear()


def test_role_map_is_configurable_and_checked(console, monkeypatch) -> None:
    from governance.errors import ConfigError
    from governance_airflow.console.access import parse_role_map

    client, token = console
    assert parse_role_map("Admin:ig, viewer:auditor,viewer:ig")["viewer"] == {"auditor", "ig"}
    with pytest.raises(ConfigError, match="airflow-role:console-role"):
        parse_role_map("admin:superuser")
    monkeypatch.setenv("AIRFLOW__GOVERNANCE_CONSOLE__ROLE_MAP", "viewer:records_management")
    assert client.get("/governance/requests", headers=token("auditor")).status_code == 200
    assert client.get("/governance/ledger", headers=token("ig")).status_code == 403


def test_no_personal_data_outside_a_requests_own_pages_nor_in_the_log(console, scenario, console_log) -> None:
    client, token = console
    seen: dict[str, str] = {}
    for role in SEES:
        for page in SEES[role]:
            seen[f"{role} {page}"] = client.get(f"/governance/{page}", headers=token(role)).text
    ledger = client.get("/governance/ledger/export", headers=token("auditor")).content
    seen["ledger export"] = "".join(zipfile.ZipFile(io.BytesIO(ledger)).read(n).decode() for n in
                                    zipfile.ZipFile(io.BytesIO(ledger)).namelist())
    for kind in ("json", "pdf"):
        seen[f"certificate {kind}"] = client.get(f"/governance/retention/certificates/{scenario.certified_batch}.{kind}",
                                                 headers=token("auditor")).content.decode("latin-1")
    seen["data docs"] = client.get("/governance/quality/datadocs/default/index.html", headers=token("ig")).text
    listing = client.get("/governance/quality/datadocs/default/", headers=token("ig"))
    seen["data docs pages"] = listing.text
    for path in re.findall(r'href="/governance/quality/datadocs/default/([^"]+\.html)"', listing.text)[:6]:
        page = client.get(f"/governance/quality/datadocs/default/{path}", headers=token("ig"))
        assert page.status_code == 200 and not re.search(r"<(script|link)\b[^>]*(src|href)=[\"']?(https?:)?//", page.text)
        assert "script-src 'none'" in page.headers["content-security-policy"]
        seen[f"data docs {path}"] = page.text
    for filt in ("?action=sar.lodged", "?since=2026-01-01&until=2030-01-01"):
        seen[f"ledger {filt}"] = client.get(f"/governance/ledger{filt}", headers=token("auditor")).text
    assert all(len(text) > 500 for text in seen.values())
    for where, text in seen.items():
        leaked = [c for c in CANARIES if c in text]
        assert not leaked, f"{where} shows personal data: {leaked}"

    # The request's own pages are where it shows, and only to records management.
    preview = client.get(f"/governance/requests/{scenario.request_id}/preview", headers=token("records_management")).text
    assert all(c in preview for c in SUBJECT_CANARIES)
    assert "Velmoravic" not in preview  # another family's person: not in this request at all
    assert not [c for c in CANARIES if c in console_log.text]
    assert "opened the preview of request" in console_log.text


def test_records_management_registers_reviews_approves_and_hands_over(console, scenario) -> None:
    """The whole request from the pages: register, search and redact, approve the pack shown, hand over, open."""
    from governance.sar.package import open_package

    import sqlite3

    client, token = console
    with sqlite3.connect(scenario.settings.home / "stores" / "default.db") as db:  # a child still on an open case
        subject = db.execute(
            "SELECT p.person_id FROM people p JOIN case_members m ON m.person_id = p.person_id JOIN cases c "
            "ON c.case_id = m.case_id WHERE c.closed_on IS NULL AND p.role = 'subject_child' AND p.family_id NOT IN "
            "(SELECT family_id FROM people WHERE person_id IN (?, ?)) ORDER BY p.person_id LIMIT 1",
            ("P000000000", scenario.other_person)).fetchone()[0]
    rm = token("records_management", "records.manager")
    lodged = client.post("/governance/requests", headers=rm, follow_redirects=False,
                         data={"store": "default", "subject_person_id": subject, "received_on": "2026-11-30",
                               "requester_kind": "subject"})
    assert lodged.status_code == 303, lodged.text[-300:]
    request_id = lodged.headers["location"].split("/requests/")[1].split("?")[0]
    assert _entries(scenario, "sar.lodged")[-1].actor == "console:records.manager"
    register = client.get("/governance/requests", headers=rm).text
    assert request_id in register and "2026-12-30" in register  # one calendar month, a working day

    assert client.post(f"/governance/requests/{request_id}/review", headers=rm, follow_redirects=False).status_code == 303
    page = client.get(f"/governance/requests/{request_id}", headers=rm).text
    pack_hash = re.search(r'name="pack_hash" value="([0-9a-f]+)"', page).group(1)
    # The reviewer's preview (issue 14) on the page, bound to the same pack: labelled redactions, codes, flagged notes.
    assert f'class="sar-preview" data-request="{request_id}" data-pack-hash="{pack_hash}"' in page
    assert re.search(r'<mark data-label="R-[0-9a-f]{8}" data-code="[A-Z0-9-]+"', page)
    flagged = re.findall(r'class="record needs_decision"', page)
    assert flagged and f"withhold the {len(flagged)} flagged note(s)" in page and 'id="needs-decision"' in page
    reviewed_before = len(_entries(scenario, "sar.reviewed"))
    stale = client.post(f"/governance/requests/{request_id}/approve", headers=rm,
                        data={"pack_hash": "0" * 64, "withhold_undecided": "1"})
    assert stale.status_code == 400 and "the review pack changed since it was reviewed" in stale.text
    undecided = client.post(f"/governance/requests/{request_id}/approve", headers=rm, data={"pack_hash": pack_hash})
    assert undecided.status_code == 400 and "flagged as third-party information need a decision" in undecided.text
    assert len(_entries(scenario, "sar.reviewed")) == reviewed_before  # nothing recorded for a refusal
    approved = client.post(f"/governance/requests/{request_id}/approve", headers=rm, follow_redirects=False,
                           data={"pack_hash": pack_hash, "withhold_undecided": "1"})
    assert approved.status_code == 303, approved.text[-300:]
    review = _entries(scenario, "sar.reviewed")[-1]
    assert review.actor == "console:records.manager" and review.details["shown_hash"] == pack_hash
    assert review.details["decision"] == "approved" and review.details["channel"] == "console"
    page = client.get(f"/governance/requests/{request_id}", headers=rm).text
    assert 'class="record needs_decision"' not in page and page.count('class="record withheld') >= len(flagged)

    handed = client.post(f"/governance/requests/{request_id}/handover", headers=rm, follow_redirects=False)
    assert handed.status_code == 303, handed.text[-300:]
    assert _entries(scenario, "sar.disclosed")[-1].actor == "console:records.manager"
    import shutil

    # Not from the API server's disk: the files an embedded delivery wrote are gone, the hand-over still works.
    shutil.rmtree(scenario.settings.home / "sar" / "handover" / request_id, ignore_errors=True)
    package = client.get(f"/governance/requests/{request_id}/handover/package", headers=rm)
    key = client.get(f"/governance/requests/{request_id}/handover/key", headers=rm)
    files, manifest, problems = open_package(package.content, bytes.fromhex(key.text.strip().splitlines()[-1]))
    assert problems == [] and "bundle.json" in files
    link = client.get(f"/governance/requests/{request_id}/handover/link", headers=rm)
    assert link.status_code == 200 and "bundle.enc" in link.text and key.text.splitlines()[-1] not in link.text
    assert not (scenario.settings.home / "sar" / "handover" / request_id).exists()  # nothing written there either
    assert client.get(f"/governance/requests/{request_id}/handover/key", headers=token("ig")).status_code == 403


def test_a_destroyed_case_restored_from_backup_is_a_tombstone_match(scenario) -> None:
    """The console recognises tombstones with the shared key retention wrote them with (not a per-host file)."""
    from governance_airflow.console import context
    from governance_airflow.console.services import retention as service

    context.use_settings(scenario.settings)
    destroyed = [i for e in _entries(scenario, "retention.destroy.complete") for i in e.record_ids
                 if str(i).startswith("C")]
    assert destroyed
    engine = sa.create_engine(scenario.settings.store("default").url)
    restored = destroyed[0]
    with engine.begin() as conn:  # an old backup brings one destroyed case back
        conn.execute(sa.text("INSERT INTO cases (case_id, family_id, case_type, status, opened_on) "
                             "VALUES (:c, 'F0000001', 'early_help', 'open', '2015-01-01')"), {"c": restored})
    try:
        found = service.tombstone_matches(scenario.settings, "default")
        assert found["tombstones"] > 0 and found["matches"] == [restored]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM cases WHERE case_id = :c"), {"c": restored})
        engine.dispose()


def test_a_requests_pack_is_built_once_and_recomputed_in_the_background_when_the_platform_moves(
        console, scenario, monkeypatch) -> None:
    """The working set (every person in the store profiled: seconds on a large store) is not rebuilt per view."""
    import time

    from governance.keys import KeyStore
    from governance.ledger import Ledger
    from governance.sar import process
    from governance_airflow.console import context

    client, token = console
    rm = token("records_management", "records.manager")
    builds: list[str] = []
    real_build = process.build_workset

    def counted(*args, **kwargs):
        builds.append(args[2])
        return real_build(*args, **kwargs)

    monkeypatch.setattr(process, "build_workset", counted)
    context.drop_latest(lambda name: True)
    url = f"/governance/requests/{scenario.request_id}"
    first = client.get(url, headers=rm).text
    second = client.get(url, headers=rm).text
    assert builds == [scenario.request_id] and 'id="pack-stale"' not in second
    assert re.search(r'data-pack-hash="([0-9a-f]+)"', first).group(1) == re.search(r'data-pack-hash="([0-9a-f]+)"', second).group(1)

    # The platform moves elsewhere (an entry that is not this request's): the last pack at once, marked, rebuilt behind.
    ledger = Ledger.open(scenario.settings.ledger_url, KeyStore(scenario.settings.keys_dir))
    try:
        ledger.append(actor="console-test", action="manual.note", reason="moves the ledger head")
    finally:
        ledger.close()
    assert 'id="pack-stale"' in client.get(url, headers=rm).text
    deadline = time.monotonic() + 120
    while 'id="pack-stale"' in client.get(url, headers=rm).text:
        assert time.monotonic() < deadline, "the pack was not recomputed in the background"
        time.sleep(0.5)
    assert builds == [scenario.request_id] * 2


def test_a_cold_request_page_answers_at_once_and_shows_the_pack_when_ready(console, scenario, monkeypatch) -> None:
    """A pack not built yet (seconds at 20,000 families) does not hold the page: it says so and reloads itself."""
    import time

    from governance.sar import process
    from governance_airflow.console import context
    from governance_airflow.console.services import requests as service

    client, token = console
    rm = token("records_management", "records.manager")
    real_build = process.build_workset

    def slow(*args, **kwargs):  # a large store's build
        time.sleep(1.5)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(process, "build_workset", slow)
    monkeypatch.setattr(service, "PAGE_WAIT_SECONDS", 0.1)
    context.drop_latest(lambda name: True)
    url = f"/governance/requests/{scenario.request_id}"
    started = time.monotonic()
    first = client.get(url, headers=rm).text
    assert time.monotonic() - started < 1.0
    assert 'id="pack-pending"' in first and 'http-equiv="refresh"' in first and 'id="pack"' not in first
    assert "No review pack yet" not in first  # not "never searched": it is being prepared
    deadline = time.monotonic() + 60
    while 'id="pack-pending"' in (page := client.get(url, headers=rm).text):
        assert time.monotonic() < deadline, "the pack was never built in the background"
        time.sleep(0.3)
    assert 'id="pack"' in page and 'http-equiv="refresh"' not in page
