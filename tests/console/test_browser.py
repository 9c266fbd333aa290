"""The console in a real browser: headless Chromium (Debian's) driven by Playwright, against a real API server.

One ``airflow api-server`` is started for the session (127.0.0.1, a free port,
SimpleAuthManager users ig.lead/admin, records.manager/user, auditor.one/viewer)
on the scenario's store. Each role logs in through Airflow's own login page and
uses the console as a person would; refusals are checked in the browser and
from the API with a token from ``POST /auth/token``.

Chromium: Debian's ``chromium`` package (no browser download). Where it is
missing the tests are skipped with the reason; under ``CI=true`` the session
installs it with ``apt-get install -y chromium chromium-driver`` and fails if
that is not possible. ``CONSOLE_SCREENSHOTS=docs/img`` writes a screenshot of
each page (how docs/img/console-*.png were made).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.console.scenario import CANARIES, SUBJECT_CANARIES

pytestmark = pytest.mark.filterwarnings("ignore")

CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
NAV = {"ig": ["Overview", "Retention", "Ledger", "Quality and sharing"], "records_management": ["Access requests"],
       "auditor": ["Retention", "Ledger"]}
REFUSED = {"ig": ["requests"], "records_management": ["overview", "retention", "ledger", "quality"],
           "auditor": ["overview", "requests", "quality"]}
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


def _unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run)")
    pytest.skip(reason)


def _chromium() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found:
        return found
    if CI and shutil.which("apt-get"):
        # The project's own set-up for CI: Debian's browser, never a download by Playwright.
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
            if done.returncode:
                pytest.fail(f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}")
        return shutil.which("chromium") or CHROMIUM
    _unavailable("Chromium is not installed: apt-get install chromium chromium-driver (Debian) to run the browser tests")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def airflow_server(request, scenario_home, airflow_metadata, tmp_path_factory, browser):
    from tests.console import server

    # Started first, then the scenario is built while the server imports Airflow (two cores, two jobs).
    process, url, log, passwords = server.launch(scenario_home, tmp_path_factory.mktemp("api-server"), airflow_metadata)
    try:
        request.getfixturevalue("scenario")
        running = server.wait(process, url, log, passwords)
    except BaseException:
        server.Server(url, {}, log, process).stop()
        raise
    yield running
    running.stop()


@pytest.fixture(scope="session")
def session_scenario(airflow_server, scenario):
    return scenario


def _log_in(browser, airflow_server, role: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    name, password = airflow_server.login(role)
    page.goto(f"{airflow_server.url}/auth/login/?next={airflow_server.url}/governance/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # /governance/ redirects to the role's first page: wait for that page, not the redirect.
    page.wait_for_url(re.compile(r".*/governance/(overview|requests|retention|ledger|quality)$"), timeout=60_000)
    page.wait_for_load_state()
    return context, page


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        height = min(page.evaluate("document.documentElement.scrollHeight"), 1500)
        page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": height})


def _api_token(airflow_server, role: str) -> str:
    import httpx

    name, password = airflow_server.login(role)
    response = httpx.post(f"{airflow_server.url}/auth/token", json={"username": name, "password": password}, timeout=30)
    assert response.status_code in (200, 201), response.text
    return response.json()["access_token"]


@pytest.mark.parametrize("role", ["ig", "records_management", "auditor"])
def test_each_role_logs_in_sees_its_pages_and_is_refused_the_others(browser, airflow_server, session_scenario, role):
    import httpx

    context, page = _log_in(browser, airflow_server, role)
    try:
        nav = page.locator("header a").all_inner_texts()
        assert nav == NAV[role]
        for title in NAV[role]:
            page.get_by_role("link", name=title, exact=True).first.click()
            page.wait_for_load_state()
            assert page.locator("h1").first.inner_text().startswith(title.split()[0]), title
            _shot(page, f"{role}-{title.lower().replace(' ', '-')}")
        for refused in REFUSED[role]:
            response = page.goto(f"{airflow_server.url}/governance/{refused}")
            assert response.status == 403 and "Not for your role" in page.content()
        if role == "auditor":
            page.goto(f"{airflow_server.url}/governance/retention")
            assert page.locator("#place-hold").count() == 0 and page.get_by_role("button", name="Lift").count() == 0
            assert page.locator("#holds").count() == 1 and "read-only" in page.locator("header").inner_text()
    finally:
        context.close()
    token = _api_token(airflow_server, role)
    for refused in REFUSED[role]:
        assert httpx.get(f"{airflow_server.url}/governance/{refused}", headers={"Authorization": f"Bearer {token}"},
                         timeout=30).status_code == 403
    assert httpx.get(f"{airflow_server.url}/governance/{REFUSED[role][0]}", timeout=30).status_code == 401


def test_ig_places_and_lifts_a_hold_and_resolves_a_finding(browser, airflow_server, session_scenario):
    context, page = _log_in(browser, airflow_server, "ig")
    try:
        page.goto(f"{airflow_server.url}/governance/retention")
        form = page.locator("#place-hold")
        form.locator("select[name=kind]").select_option("inquiry")
        form.locator("input[name=source]").fill("Independent inquiry, preservation notice")
        form.locator("input[name=reason]").fill("records touching the inquiry's terms of reference")
        form.locator("input[name=review_on]").fill("2027-12-01")
        form.locator("input[name=family_ids]").fill("F0000007")
        form.get_by_role("button", name="Place hold").click()
        message = page.locator(".message").inner_text()
        assert message.startswith("hold H-") and "placed (ledger entry" in message
        hold_id = message.split()[1]
        row = page.locator("#holds tr", has_text=hold_id)
        assert "F0000007" in row.inner_text()
        _shot(page, "retention-hold-placed")
        row.get_by_role("button", name="Lift").click()
        assert f"hold {hold_id} lifted" in page.locator(".message").inner_text()
        assert page.locator("#holds tr", has_text=hold_id).count() == 0

        page.goto(f"{airflow_server.url}/governance/quality")
        first = page.locator("#findings tr").nth(1)
        key = first.locator("td").nth(1).inner_text()
        first.locator("input[name=note]").fill("consent form found in the paper file; scanned in")
        first.get_by_role("button", name="Resolve").click()
        assert f"{key} resolved (ledger entry" in page.locator(".message").inner_text()
        assert page.locator("#findings tr", has_text=key).count() == 0
        _shot(page, "quality-finding-resolved")
        page.get_by_role("link", name="Data Docs for default").click()
        assert page.locator("#datadocs-pages tr").count() > 2
        page.locator("#datadocs-pages a").first.click()
        page.wait_for_load_state()
        assert "/datadocs/default/" in page.url and page.locator("table").count() > 0
        _shot(page, "data-docs")
    finally:
        context.close()


def test_auditor_downloads_a_certificate_and_verifies_it(browser, airflow_server, session_scenario, tmp_path):
    context, page = _log_in(browser, airflow_server, "auditor")
    try:
        page.goto(f"{airflow_server.url}/governance/retention")
        row = page.locator("#batches tr", has_text=session_scenario.certified_batch)
        with page.expect_download() as download:
            row.get_by_role("link", name="PDF").click()
        pdf = tmp_path / "certificate.pdf"
        download.value.save_as(pdf)
        assert pdf.read_bytes()[:5] == b"%PDF-"
        page.goto(f"{airflow_server.url}/governance/ledger")
        assert page.locator("#verification .ok").count() == 1
        page.locator("#check input[type=file]").set_input_files(str(pdf))
        page.locator("#check").get_by_role("button", name="Check against the ledger").click()
        result = page.locator("#check-result").inner_text()
        assert "vouched for by the ledger" in result and "NOT" not in result and "retention.certificate.issued" in result
        _shot(page, "auditor-certificate-checked")
        forged = tmp_path / "forged.pdf"
        forged.write_bytes(pdf.read_bytes() + b"\n%")
        page.locator("#check input[type=file]").set_input_files(str(forged))
        page.locator("#check").get_by_role("button", name="Check against the ledger").click()
        assert "NOT vouched for by the ledger" in page.locator("#check-result").inner_text()
    finally:
        context.close()


def test_records_manager_opens_a_requests_preview(browser, airflow_server, session_scenario):
    context, page = _log_in(browser, airflow_server, "records_management")
    try:
        page.get_by_role("link", name=session_scenario.request_id).click()
        assert page.locator("#pack").count() == 1
        # The reviewer's preview (governance.sar.preview's own classes: article.record.redacted) is
        # readable inside the console's page: its text is not drawn in the colour of its background.
        field = page.locator("#review-preview article.redacted p.field").first
        colour, background = field.evaluate(
            "e => [getComputedStyle(e).color, getComputedStyle(e.closest('article')).backgroundColor]")
        assert colour != background, f"preview text invisible: {colour} on {background}"
        _shot(page, "request")
        page.get_by_role("link", name="Preview exactly what goes out").click()
        text = page.locator("main").inner_text()
        assert all(c in text for c in SUBJECT_CANARIES) and "REDACTED" in text
        assert page.locator(".redaction").count() > 0
        # What a data subject reads about the processing: sentences, not JSON (no \u0027 for an apostrophe).
        art15 = page.locator("#article15").inner_text()
        assert "Children's Social Care" in art15 and "\\u0027" not in art15 and '["' not in art15
        _shot(page, "request-preview")
    finally:
        context.close()


def test_no_personal_data_in_the_servers_log(airflow_server, session_scenario):
    text = airflow_server.log.read_text(errors="replace")
    assert "opened the preview of request" in text or "GET /governance" in text
    assert not [c for c in CANARIES if c in text]
