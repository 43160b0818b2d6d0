"""report.html opened in headless Chromium: complete without the network, and it prints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coprod_sim.report.writer import write_report
from tests.test_report import GRID, run_sweep

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = run_sweep(tmp_path_factory.mktemp("html"), "html", GRID, replications=2)
    return write_report(out).html


def test_report_html_shows_every_figure_offline_and_prints(report, tmp_path):
    assert CHROMIUM.exists(), f"{CHROMIUM} not found: install Debian's chromium; never download one."
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("COPROD_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    asked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def route(r):
            asked.append(r.request.url)
            (r.continue_ if r.request.url.startswith(("file:", "data:")) else r.abort)()

        page.route("**/*", route)
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.locator("img")
        assert images.count() >= 6
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        assert all(w > 300 for w in widths), widths  # every figure decoded from the page itself
        assert page.locator("table").count() >= 4 and page.get_by_text("What was run").count() == 1
        page.screenshot(path=str(shots / "report_top.png"))
        page.screenshot(path=str(shots / "report_full.png"), full_page=True)
        pdf = page.pdf(path=str(shots / "report.pdf"), format="A4")
        browser.close()
    assert [u for u in asked if not u.startswith(("file:", "data:"))] == []
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 3
