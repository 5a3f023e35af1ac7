"""The dashboard end to end in headless Chromium (Debian's ``chromium``, driven by
Playwright; no browser is downloaded) against a real ``mlcli ui``.

Each test saves screenshots of the pages it visits under ``$MLCLI_TEST_ARTIFACTS``
(default ``test-artifacts/ui/`` in the repository). Every page must run without a
JavaScript error, a Content-Security-Policy violation, or a dialog (the hostile run's
name and params would open one if they ever ran as HTML).

Without Chromium or Playwright these tests skip, unless MLCLI_BROWSER_TESTS_REQUIRED=1
(as in CI), where they fail instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import chromium_context
from uihelpers import UiServer
from uistore import XSS_NAME, XSS_PARAM, XSS_TAG, UiStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
_EXPECTED_HTTP_ERROR = "Failed to load resource: the server responded with a status of 4"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_context() as context:
        yield context


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    directory = Path(os.environ.get("MLCLI_TEST_ARTIFACTS") or ROOT / "test-artifacts" / "ui")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class Page:
    """A browser tab that records what must never happen, and takes screenshots."""

    def __init__(self, page: Any, server: UiServer, shots: Path, test: str) -> None:
        self.page = page
        self.server = server
        self.shots = shots
        self.test = test
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        # A 4xx the page shows (a bad filter, a refused promotion) is expected; a CSP
        # violation ("Refused to ...") or a script error is not.
        if message.type == "error" and not message.text.startswith(_EXPECTED_HTTP_ERROR):
            self.errors.append(f"console: {message.text}")

    def goto(self, path: str) -> None:
        self.page.goto(self.server.url.rstrip("/") + path)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{self.test}-{name}.png"), full_page=True)

    def check_clean(self) -> None:
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert self.errors == [], self.errors


@pytest.fixture
def page(browser: Any, ui_server: UiServer, artifacts_dir: Path, request: Any) -> Iterator[Page]:
    tab = browser.new_page()
    wrapped = Page(tab, ui_server, artifacts_dir, request.node.name)
    yield wrapped
    tab.close()
    wrapped.check_clean()


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _row_names(page: Page) -> list[str]:
    return page.page.locator("#runs-table tbody td.name").all_inner_texts()


def test_runs_table_filter_sort_and_run_page(page: Page, built_store: UiStore) -> None:
    expect = _expect()
    tab = page.page
    page.goto("/")
    expect(tab.locator("#experiments")).to_contain_text("sweep")
    page.shot("0-experiments")
    tab.get_by_role("link", name="sweep").click()
    expect(tab.locator("#runs-table tbody tr")).to_have_count(6)
    page.shot("1-runs-table")

    # A filter in the compare language, applied with Enter.
    tab.fill("#filter", "params.model = 'rf'")
    tab.press("#filter", "Enter")
    expect(tab.locator("#runs-table tbody tr")).to_have_count(2)
    assert "filter=params.model" in tab.url
    page.shot("2-filtered")

    # A bad filter: the error and its position shown inline, the table kept.
    tab.fill("#filter", "params.model === 'rf'")
    tab.press("#filter", "Enter")
    expect(tab.locator("#filter-error")).to_be_visible()
    expect(tab.locator("#filter-error")).to_contain_text("column 16")
    caret = tab.locator("#filter-error pre").inner_text()
    assert caret.splitlines()[1] == " " * 15 + "^"
    assert tab.locator("#filter").get_attribute("aria-invalid") == "true"
    page.shot("3-filter-error")

    # Sort by a metric: click its header (descending first, then ascending).
    tab.fill("#filter", "")
    tab.press("#filter", "Enter")
    expect(tab.locator("#filter-error")).to_be_hidden()
    header = tab.locator("#runs-table th button.sort[data-key='metrics.accuracy']")
    header.click()
    expect(tab.locator("#runs-table tbody tr").first).to_contain_text("trial-4")
    assert "sort=-metrics.accuracy" in tab.url
    header = tab.locator("#runs-table th button.sort[data-key='metrics.accuracy']")
    header.click()
    expect(tab.locator("#runs-table tbody tr").first).to_contain_text("trial-0")
    page.shot("4-sorted")

    # The URL is the view: opening it again shows the same table.
    shared = tab.url
    tab.goto("about:blank")
    tab.goto(shared)
    expect(tab.locator("#runs-table tbody tr").first).to_contain_text("trial-0")
    assert _row_names(page)[-1] == XSS_NAME  # no accuracy: last, whichever way

    # Open a run and see its charts drawn.
    tab.get_by_role("link", name="trial-0", exact=True).click()
    expect(tab.locator("#run-name")).to_contain_text("trial-0")
    chart = tab.locator("#metric-charts svg.line-chart").first
    expect(chart).to_be_visible()
    path = chart.locator("path.series-line").first
    assert re.match(r"M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){19}$", path.get_attribute("d") or "")
    tab.check("#log-scale")
    tab.select_option("#x-axis", "relative")
    expect(tab.locator("#metric-charts svg.line-chart").first).to_contain_text("log scale")
    expect(tab.locator("#git-commit")).to_have_text(re.compile("^5d6e7f8a"))
    expect(tab.locator("#uncommitted-diff")).to_contain_text("+lr = 0.01")
    expect(tab.locator(".model .signature")).to_contain_text("sepal_length")
    page.shot("5-run-page")

    # Artifacts: JSON, a CSV as a table, an image.
    tab.locator("a.artifact-entry[data-path='config.json']").click()
    expect(tab.locator("#artifact-preview pre")).to_contain_text('"optimizer": "adam"')
    tab.locator("a.artifact-entry[data-path='tables']").click()
    tab.locator("a.artifact-entry[data-path='tables/history.csv']").click()
    expect(tab.locator("#artifact-preview table th").first).to_have_text("epoch")
    tab.locator(".artifact-crumbs a").first.click()
    tab.locator("a.artifact-entry[data-path='plots']").click()
    tab.locator("a.artifact-entry[data-path='plots/curve.png']").click()
    image = tab.locator("#artifact-preview img")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("naturalWidth", 8)  # the PNG loaded and decoded
    page.shot("6-artifact-image")


def test_columns_csv_and_paging(page: Page, built_store: UiStore) -> None:
    expect = _expect()
    tab = page.page
    page.goto(f"/experiments/{built_store.experiment_id}?limit=25")
    tab.locator("#columns-chooser summary").click()
    tab.locator("#columns-chooser input[value='tags.team']").check()
    expect(tab.locator("#runs-table th button.sort[data-key='tags.team']")).to_be_visible()
    tab.locator("#columns-chooser input[value='params.depth']").uncheck()
    expect(tab.locator("#runs-table th button.sort[data-key='params.depth']")).to_have_count(0)
    assert "cols=" in tab.url and "tags.team" in tab.url
    page.shot("1-columns")
    with tab.expect_download() as download:
        tab.locator("#csv-page").click()
    header = Path(download.value.path()).read_text().splitlines()[0].split(",")
    assert "tags.team" in header and "params.depth" not in header
    page.goto(f"/experiments/{built_store.experiment_id}?limit=25&offset=0&sort=run_name")
    tab.locator("select[aria-label='Runs per page']").select_option("25")
    expect(tab.locator("#runs-summary")).to_contain_text("1–6 of 6 runs")


def test_compare_two_runs(page: Page, built_store: UiStore) -> None:
    expect = _expect()
    tab = page.page
    page.goto(f"/experiments/{built_store.experiment_id}?sort=run_name")
    for name in ("trial-1", "trial-3"):
        tab.locator(f"#runs-table tr[data-run-id='{built_store.runs[name]}'] input").check()
    expect(tab.locator("#compare-selected")).to_have_text("Compare selected (2)")
    tab.locator("#compare-selected").click()
    expect(tab.locator("#compare-table")).to_be_visible()
    assert tab.locator("#compare-table thead th a").all_inner_texts() == ["trial-1", "trial-3"]
    lr = tab.locator("#compare-table tr[data-key='params.lr']")
    expect(lr).to_have_class(re.compile("changed"))
    expect(tab.locator("#compare-table tr[data-key='status']")).not_to_have_class(
        re.compile("changed")
    )
    best = tab.locator("#compare-table tr[data-key='metrics.accuracy'] td.best")
    expect(best).to_have_count(1)
    expect(best).to_have_text("0.85")
    expect(tab.locator("#compare-chart path.series-line")).to_have_count(2)
    expect(tab.locator("#parallel-chart path.pc-line")).to_have_count(2)
    page.shot("1-compare")
    tab.check("#only-changed")
    expect(tab.locator("#compare-table tr[data-key='status']")).to_have_count(0)


def test_promote_a_version_and_see_the_event(
    browser: Any, fresh_store: UiStore, serve_ui, artifacts_dir: Path
) -> None:
    expect = _expect()
    server = serve_ui(fresh_store.root)
    tab = browser.new_page()
    page = Page(tab, server, artifacts_dir, "test_promote")
    try:
        page.goto("/models")
        expect(tab.locator("#models-table")).to_contain_text("Production: v1")
        page.shot("0-models")
        tab.get_by_role("link", name="churn").click()
        expect(tab.locator("#versions-table tr[data-version='2'] td.stage")).to_have_text("None")
        page.shot("1-model")

        # A gate that does not hold: refused, with the values, and nothing changes.
        tab.select_option("#promote-version", "2")
        tab.select_option("#promote-stage", "Production")
        tab.fill("#promote-require", "metrics.accuracy >= 0.99")
        tab.click("#promote-form button[type=submit]")
        expect(tab.locator("#promote-result .error")).to_contain_text("refused")
        expect(tab.locator("#promote-result .error")).to_contain_text("metrics.accuracy=0.75")
        page.shot("2-refused")

        tab.fill("#promote-require", "metrics.accuracy >= 0.7")
        tab.check("#promote-archive")
        tab.fill("#promote-comment", "ship it")
        tab.click("#promote-form button[type=submit]")
        expect(tab.locator("#promote-result .notice")).to_contain_text("Version 2 promoted")
        expect(tab.locator("#versions-table tr[data-version='2'] td.stage")).to_have_text(
            "Production"
        )
        expect(tab.locator("#versions-table tr[data-version='1'] td.stage")).to_have_text(
            "Archived"
        )
        event = tab.locator("#events-table tbody tr", has_text="ship it")
        expect(event).to_contain_text("transition")
        expect(event).to_contain_text("Production")
        page.shot("3-promoted")

        tab.select_option("#promote-version", "1")
        tab.select_option("#promote-target", "alias")
        tab.fill("#promote-alias", "champion")
        tab.fill("#promote-require", "")
        tab.click("#promote-form button[type=submit]")
        expect(tab.locator("#versions-table tr[data-version='1']")).to_contain_text("@champion")
        expect(tab.locator("#events-table tbody tr").first).to_contain_text("set_alias")
    finally:
        tab.close()
    page.check_clean()


def test_hostile_content_is_shown_as_text(page: Page, built_store: UiStore) -> None:
    expect = _expect()
    tab = page.page
    page.goto(f"/experiments/{built_store.experiment_id}?cols=params.payload,tags.note")
    link = tab.get_by_role("link", name=XSS_NAME)
    expect(link).to_be_visible()
    expect(tab.locator("#runs-table")).to_contain_text(XSS_PARAM)
    expect(tab.locator("#runs-table")).to_contain_text(XSS_TAG)
    page.shot("1-table")
    link.click()
    expect(tab.locator("#run-name")).to_contain_text(XSS_NAME)
    expect(tab.locator(".params")).to_contain_text(XSS_PARAM)
    assert tab.locator("img[src='x'], script:not([src]), svg[onload]").count() == 0
    tab.locator("a.artifact-entry[data-path='evil.html']").click()
    expect(tab.locator("#artifact-preview pre")).to_contain_text("<script>alert(4)</script>")
    tab.locator("a.artifact-entry[data-path='evil.csv']").click()
    expect(tab.locator("#artifact-preview table")).to_contain_text("<img src=x onerror=alert(6)>")
    tab.locator("a.artifact-entry[data-path='evil.svg']").click()
    expect(tab.locator("#artifact-preview img")).to_be_visible()
    page.shot("2-run")
    # Opened directly, an artifact runs nothing either (sandboxed, never HTML).
    run = built_store.xss_run
    for path in ("evil.svg", "evil.html"):
        try:
            page.goto(f"/api/runs/{run}/artifacts/file?path={path}")
        except Exception as exc:
            assert "Download is starting" in str(exc) or "net::ERR_ABORTED" in str(exc)
    tab.wait_for_timeout(300)
    assert page.dialogs == []
    blocked = [e for e in page.errors if "Blocked script execution" in e]
    assert blocked, page.errors  # the SVG's script was there, and the sandbox stopped it
    page.errors = [e for e in page.errors if e not in blocked and "ERR_BLOCKED_BY" not in e]
