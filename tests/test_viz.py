"""The teaching page end to end, as a teacher uses it: `coprod viz` in a subprocess, opened in
headless Chromium (Debian's package) through Playwright.

Every request the browser makes must stay on this machine; a request elsewhere is blocked and
fails the test, and so does any HTTP error (e.g. an asset solara-assets does not ship, which
the server refuses to fetch). Without Chromium the test fails: `bash scripts/setup.sh --test`
installs it. Set COPROD_VIZ_SCREENSHOTS=DIR to keep the screenshots (docs/img/viz.png is made
so); otherwise they go to pytest's temporary folder.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
START_TIMEOUT = 180  # seconds for the server to answer; imports are slow on a busy CI machine
UI_TIMEOUT = 120_000  # milliseconds for the page to react


# The server runs under an audit hook that refuses, and reports, any connection or name lookup
# that is not for this machine: the page must not need the internet, on the server side either.
GUARDED_SERVER = """
import socket, sys
LOCAL = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "", None)
def guard(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
        if host not in LOCAL and not str(host).startswith("127."):
            print(f"OUTBOUND blocked: connect {args[1]}", file=sys.stderr, flush=True)
            raise ConnectionRefusedError(f"the test forbids connecting to {args[1]}")
    elif event == "socket.getaddrinfo":
        host = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if host not in LOCAL and not str(host).startswith("127."):
            print(f"OUTBOUND blocked: lookup {host}", file=sys.stderr, flush=True)
            raise socket.gaierror(f"the test forbids looking up {host}")
sys.addaudithook(guard)
from coprod_sim.cli.app import main
sys.argv = ["coprod", *sys.argv[1:]]
main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """`coprod viz --port P` running in a subprocess; yields its URL."""
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", GUARDED_SERVER, "viz", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"coprod viz exited with {proc.returncode}:\n"
                            f"{(tmp_path / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"coprod viz did not answer within {START_TIMEOUT} s:\n"
                            f"{(tmp_path / 'server.log').read_text()}")
            time.sleep(0.5)
        yield url
        log.flush()
        blocked = [line for line in (tmp_path / "server.log").read_text().splitlines()
                   if line.startswith("OUTBOUND blocked")]
        assert not blocked, f"the server tried to reach the internet: {blocked}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("COPROD_VIZ_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Traffic:
    """What the browser asked for: anything not on this machine is blocked and recorded."""

    def __init__(self):
        self.outside: list[str] = []
        self.errors: list[str] = []

    @staticmethod
    def is_local(url: str) -> bool:
        u = urlparse(url)
        return u.scheme in ("blob", "data", "about") or u.hostname in LOCAL_HOSTS

    def route(self, route):
        if self.is_local(route.request.url):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort("internetdisconnected")

    def watch(self, page) -> None:
        page.on("websocket", lambda ws: None if self.is_local(ws.url) else self.outside.append(ws.url))
        page.on("response", lambda r: self.errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400
                else None)
        page.on("requestfailed", lambda r: None if not self.is_local(r.url)
                else self.errors.append(f"failed {r.url}: {r.failure}"))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))


def month(page) -> int:
    text = page.locator(".coprod-status").inner_text()
    m = re.match(r"Month (\d+)", text)
    assert m, f"status line without a month: {text!r}"
    return int(m.group(1))


MONTH_JS = """([op, m]) => {
    const found = /^Month (\\d+)/.exec(document.querySelector('.coprod-status')?.innerText || '');
    if (!found) return false;
    const now = Number(found[1]);
    return op === '>=' ? now >= m : now === m;
}"""


def wait_for_month(page, op: str, target: int) -> int:
    """Wait until the status line's month is ``op`` (">=" or "==") ``target``; return it."""
    try:
        page.wait_for_function(MONTH_JS, arg=[op, target], polling=50, timeout=UI_TIMEOUT)
    except Exception:
        pytest.fail(f"the page never showed a month {op} {target} "
                    f"(status line: {page.locator('.coprod-status').all_inner_texts()})")
    return month(page)


def mesa_time(page) -> str:
    return page.get_by_text(re.compile(r"^Time: ")).inner_text()


def picture(page, selector: str) -> bytes:
    return page.locator(selector).screenshot()


def play_until(page, target: int) -> int:
    """Play, then pause once the month reaches ``target`` (or the run ends by itself)."""
    page.get_by_role("button", name="▶").click()
    wait_for_month(page, ">=", target)
    pause = page.get_by_role("button", name="❚❚")
    if pause.is_enabled():  # disabled once the run has reached its last month and stopped
        pause.click()
    page.wait_for_timeout(1000)  # the last frame in flight
    return month(page)


def test_teaching_page_in_headless_chromium(server, shots):
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} not found: the browser test needs Debian's chromium package "
        "(bash scripts/setup.sh --test installs it). Never download a browser instead.")
    from playwright.sync_api import expect, sync_playwright

    traffic = Traffic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1500})
        context.route("**/*", traffic.route)
        page = context.new_page()
        traffic.watch(page)
        try:
            page.goto(server, timeout=UI_TIMEOUT)

            # Everything renders: controls, levers with their help, network, plots, Info panel.
            page.get_by_role("button", name="Step").wait_for(timeout=UI_TIMEOUT)
            for name in ("Reset", "▶"):
                expect(page.get_by_role("button", name=name)).to_be_visible()
            for lever in ("Virtuous cycle off (feedback strength 0)", "Feedback strength", "Risk aversion",
                          "Staff incentives", "Outreach rate", "Effort (collective)"):
                expect(page.get_by_text(lever, exact=True).first).to_be_visible()
            expect(page.locator(".coprod-lever-help")).to_contain_text("Incentives staff have")
            expect(page.locator(".coprod-info")).to_contain_text("Things to try")
            expect(page.locator(".coprod-town-map")).to_be_visible(timeout=UI_TIMEOUT)
            for chart in ("efficacy", "quintiles", "concentration", "risk_aversion"):
                expect(page.locator(f".coprod-chart-{chart}")).to_be_visible(timeout=UI_TIMEOUT)
                box = page.locator(f".coprod-chart-{chart}").bounding_box()
                assert box["width"] > 200 and box["height"] > 150, (chart, box)
            assert month(page) == 0
            time0 = mesa_time(page)
            charts0 = {c: picture(page, f".coprod-chart-{c}") for c in ("efficacy", "quintiles")}
            town0 = picture(page, ".coprod-town-map")

            # Step: the counters move on by one month, and the plots and the town change.
            start = time.perf_counter()
            page.get_by_role("button", name="Step").click()
            wait_for_month(page, "==", 1)
            print(f"\nStep to month 1 shown after {1000 * (time.perf_counter() - start):.0f} ms")
            assert mesa_time(page) != time0
            page.wait_for_timeout(500)
            assert picture(page, ".coprod-town-map") != town0

            # Play, then pause: the months run on by themselves and the plots draw the run.
            reached = play_until(page, 36)
            assert reached >= 36
            for c, before in charts0.items():
                assert picture(page, f".coprod-chart-{c}") != before, f"the {c} plot did not change"
            expect(page.locator(".coprod-status")).to_contain_text("took part in the past year")
            page.screenshot(path=shots / "viz.png")

            # The colour switch recolours the town.
            town_efficacy = picture(page, ".coprod-town-map")
            page.get_by_role("button", name="taking part").click()
            page.wait_for_timeout(1500)
            assert picture(page, ".coprod-town-map") != town_efficacy
            page.screenshot(path=shots / "viz-taking-part.png")
            page.get_by_role("button", name="self-efficacy").click()

            # A lever, then Reset: a new run from month 0 with the virtuous cycle off.
            page.get_by_text("Virtuous cycle off (feedback strength 0)", exact=True).click()
            page.get_by_role("button", name="Reset").click()
            wait_for_month(page, "==", 0)
            expect(page.locator(".coprod-status")).to_contain_text("virtuous cycle off")
            assert mesa_time(page) == time0
            assert play_until(page, reached) >= reached
            page.screenshot(path=shots / "viz-feedback-off.png")
        except Exception:
            page.screenshot(path=shots / "failure.png")
            print(f"\nscreenshot of the failure: {shots / 'failure.png'}")
            raise
        finally:
            browser.close()

    assert not traffic.outside, f"requests left this machine: {traffic.outside}"
    assert not traffic.errors, f"the page had errors: {traffic.errors}"
