"""The HTML report in headless Chromium: no errors, no network, decoded charts, transcripts in the DOM.

Uses Debian's Chromium (/usr/bin/chromium) through the playwright package; playwright
never downloads a browser here. Skipped only when that Chromium is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from muspsy_sim.simulation.inspection.report import build_report
from tests.test_report import copy_run, make_runs, read_records, write_records

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
CHARTS = 4
INJECTED = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[list[dict]]]:
    """A two-run report, the first run with a script injected into a client turn."""
    base = tmp_path_factory.mktemp("browser")
    run_a, run_b = make_runs(base)
    evil = copy_run(run_a, base / "a-injected")
    records = read_records(evil)
    client_turn = next(i for i, t in enumerate(records[0]["turns"]) if t["speaker"] == "client")
    records[0]["turns"][client_turn]["text"] = INJECTED
    write_records(evil, records)
    out = build_report([evil, run_b], base / "report.html")
    return out, [read_records(evil), read_records(run_b)]


def test_report_in_headless_chromium(report):
    from playwright.sync_api import sync_playwright

    out, runs = report
    errors: list[str] = []
    attempted: list[str] = []  # every request the page tried that is not the report file itself
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(service_workers="block")
            page = context.new_page()
            page.on("console", lambda message: errors.append(f"console: {message.text}")
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.on("request", lambda request: attempted.append(request.url)
                    if not request.url.startswith(("file://", "data:")) else None)

            def block(route):
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    attempted.append(route.request.url)
                    route.abort()

            page.route("**/*", block)
            page.goto(out.as_uri(), wait_until="load")

            images = page.evaluate(
                """() => Promise.all([...document.querySelectorAll('img.plot')].map(async img => {
                       try { await img.decode(); } catch (e) {}
                       return {w: img.naturalWidth, h: img.naturalHeight, complete: img.complete, alt: img.alt};
                   }))"""
            )
            clients = sum(len({r["client_id"] for r in records}) for records in runs)
            assert len(images) == clients * CHARTS
            for image in images:
                assert image["complete"] and image["w"] > 0 and image["h"] > 0, image
                assert image["alt"]

            # Every session's transcript is in the DOM, turn by turn, including closed <details>.
            transcripts = page.evaluate(
                """() => [...document.querySelectorAll('.transcript')].map(t => ({
                       run: +t.dataset.run, client: t.dataset.client, session: +t.dataset.session,
                       turns: [...t.querySelectorAll(':scope > .turn')].map(turn => ({
                           speaker: turn.classList[1], text: turn.querySelector('.text').textContent}))}))"""
            )
            shown = {(t["run"], t["client"], t["session"]): t["turns"] for t in transcripts}
            assert len(shown) == sum(len(records) for records in runs)
            for index, records in enumerate(runs):
                for record in records:
                    turns = shown[(index, record["client_id"], record["session_index"])]
                    assert [t["text"] for t in turns] == [t["text"] for t in record["turns"]]
                    assert [t["speaker"] for t in turns] == [t["speaker"] for t in record["turns"]]

            # The injected markup is shown as text and never ran.
            assert page.evaluate("() => window.__pwned") is None
            assert page.locator(".turn .text", has_text="window.__pwned = 1").count() == 1
            assert page.locator("script").count() == 0

            # Opening a session shows its transcript; the comparison table is there for two runs.
            first = page.locator("details.session").first
            first.locator(":scope > summary").click()
            assert first.locator(".transcript").is_visible()
            assert page.locator("#comparison table.comparison-table tbody tr").count() > 0
            assert page.title().startswith("muspsy-sim report")
        finally:
            browser.close()

    assert errors == []
    assert attempted == [], f"the report tried to reach the network: {attempted}"
