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
EXPECT_TIMEOUT = 30_000  # milliseconds for an expectation to come true (Playwright's 5 s: short when busy)


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
print("audit guard on", file=sys.stderr, flush=True)
from coprod_sim.cli.app import main
sys.argv = ["coprod", *sys.argv[1:]]
main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp_path, *args: str):
    """`coprod viz --port P ARGS` in a subprocess; returns (process, URL, log path)."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "-c", GUARDED_SERVER, "viz", "--port", str(port), *args],
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    while True:
        if proc.poll() is not None:
            pytest.fail(f"coprod viz exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() - started > START_TIMEOUT:
            pytest.fail(f"coprod viz did not answer within {START_TIMEOUT} s:\n{log_path.read_text()}")
        time.sleep(0.2)
    print(f"\ncoprod viz answered after {time.monotonic() - started:.1f} s")
    check_system_malloc(proc, log_path)
    return proc, url, log_path


def check_system_malloc(proc, log_path) -> None:
    """On Linux the server runs itself again with PYTHONMALLOC=malloc (memory given back after
    a class): the process that answers must have it, and must run under the guard again."""
    if not sys.platform.startswith("linux") or "PYTHONMALLOC" in os.environ:
        return
    environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    assert b"PYTHONMALLOC=malloc" in environ, "coprod viz did not run itself on glibc's malloc"
    guards = log_path.read_text().splitlines().count("audit guard on")
    assert guards == 2, f"the server runs without the test's audit guard ({guards} of 2 starts)"


def stop_server(proc, log_path) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    blocked = [line for line in log_path.read_text().splitlines() if line.startswith("OUTBOUND blocked")]
    assert not blocked, f"the server tried to reach the internet: {blocked}"


@pytest.fixture
def server(tmp_path):
    """The page of a short run (36 months, so the test reaches its end), default town size."""
    scenario = tmp_path / "short.toml"
    scenario.write_text('name = "short"\nsteps = 36\n')
    proc, url, log_path = start_server(tmp_path, str(scenario))
    try:
        yield url
    finally:
        stop_server(proc, log_path)


@pytest.fixture
def classroom_server(tmp_path):
    """Classroom mode, kept on this computer (--host 127.0.0.1): every tab is a teacher's."""
    proc, url, log_path = start_server(tmp_path, "--classroom", "--host", "127.0.0.1", "--citizens", "400")
    try:
        yield url
    finally:
        stop_server(proc, log_path)


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


MONTH = re.compile(r"^(?:Month|Mois) (\d+)")
MONTH_JS = """([op, m]) => {
    const found = /^(?:Month|Mois) (\\d+)/.exec(document.querySelector('.coprod-status')?.innerText || '');
    if (!found) return false;
    const now = Number(found[1]);
    return op === '>=' ? now >= m : now === m;
}"""
SIZES = {"1366x768": (1366, 768), "1920x1080": (1920, 1080)}
PANELS = [".coprod-town-map",
          *[f".coprod-chart-{c}" for c in ("efficacy", "cycle", "quintiles", "concentration")]]


def month(page) -> int:
    text = page.locator(".coprod-status").inner_text()
    m = MONTH.match(text)
    assert m, f"status line without a month: {text!r}"
    return int(m.group(1))


def wait_for_month(page, op: str, target: int) -> int:
    """Wait until the status line's month is ``op`` (">=" or "==") ``target``; return it."""
    try:
        page.wait_for_function(MONTH_JS, arg=[op, target], polling=50, timeout=UI_TIMEOUT)
    except Exception:
        pytest.fail(f"the page never showed a month {op} {target} "
                    f"(status line: {page.locator('.coprod-status').all_inner_texts()})")
    return month(page)


def picture(page, selector: str) -> bytes:
    return page.locator(selector).screenshot()


SWITCHED_OFF_JS = ("() => document.querySelector('.coprod-cycle-switch input')"
                   "?.getAttribute('aria-checked') === 'false'")


def turn_the_cycle_off(page) -> None:
    """Click the virtuous cycle's switch until the browser shows it off. On a busy machine a
    click that lands while the levers' panel is still being drawn is lost (about one run in
    four with both cores busy, before and after the plots were shared): it is clicked again,
    never a switch already off."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(5):
        page.locator(".coprod-cycle-switch input").click(force=True)
        try:
            page.wait_for_function(SWITCHED_OFF_JS, timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("the virtuous cycle's switch did not turn off after 5 clicks")


def open_page(browser, url: str, size: str, locale: str, traffic: Traffic):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    context.route("**/*", traffic.route)
    page = context.new_page()
    traffic.watch(page)
    page.goto(url, timeout=UI_TIMEOUT)
    page.locator(".coprod-step").wait_for(timeout=UI_TIMEOUT)
    for selector in PANELS:
        page.locator(selector).wait_for(timeout=UI_TIMEOUT)
    return context, page


def assert_on_one_screen(page, size: str, panels: list[str] = PANELS) -> None:
    """The town and the four plots are whole inside the window, large enough, and nothing
    else lies over them (no banner, no badge)."""
    width, height = SIZES[size]
    assert page.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight + 1")
    for selector in panels:
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
        assert box["x"] + box["width"] <= width + 1, (selector, box)
        assert box["y"] + box["height"] <= height + 1, (selector, box)
        assert box["width"] > 300 and box["height"] > 200, (selector, box)
        covered = page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
            const pts = [[0.5, 0.5], [0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]];
            return pts.some(([fx, fy]) => { const e = document.elementFromPoint(r.left + fx * r.width,
                r.top + fy * r.height); return e !== document.querySelector(sel); }); }""", selector)
        assert not covered, f"something lies over {selector}"
    assert page.get_by_text("runs on Solara").count() == 0


def test_teaching_page_in_headless_chromium(server, shots):
    """A lesson at 1366x768 in English: step, play to the end of the run, levers, Reset, Info,
    the language switch; then the same page at 1920x1080 and in French (browser's language)."""
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} not found: the browser test needs Debian's chromium package "
        "(bash scripts/setup.sh --test installs it). Never download a browser instead.")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT)

    traffic = Traffic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context, page = open_page(browser, server, "1366x768", "en-GB", traffic)
        try:
            assert page.title() == "Coproduction - teaching page"
            assert_on_one_screen(page, "1366x768")
            assert month(page) == 0
            expect(page.locator(".coprod-status")).to_contain_text("levers as at the start")
            town0 = picture(page, ".coprod-town-map")

            # Step: one month on; the town changes; the early rich/poor ratio is held back.
            start = time.perf_counter()
            page.locator(".coprod-step").click()
            wait_for_month(page, "==", 1)
            print(f"Step to month 1 shown after {1000 * (time.perf_counter() - start):.0f} ms")
            expect(page.locator(".coprod-status")).to_contain_text("too early to compare")
            page.wait_for_timeout(500)
            assert picture(page, ".coprod-town-map") != town0

            # Play to the end of the run: a clear message, the play button back to "Play".
            page.locator(".coprod-speed").click()
            page.get_by_role("option", name="fast").click()
            page.locator(".coprod-play").click()
            expect(page.locator(".coprod-play")).to_contain_text("Pause")
            expect(page.locator(".coprod-finished")).to_contain_text(
                "Run finished at month 36: press Reset", timeout=UI_TIMEOUT)
            expect(page.locator(".coprod-play")).to_contain_text("Play")
            expect(page.locator(".coprod-play")).to_be_disabled()
            expect(page.locator(".coprod-step")).to_be_disabled()
            expect(page.locator(".coprod-status")).to_contain_text("times as often as the poorest")
            expect(page.locator(".coprod-lesson")).to_contain_text("Most of the gap is who takes part")
            page.screenshot(path=shots / "viz-en-1366x768.png")

            # The colour switch recolours the town.
            town_efficacy = picture(page, ".coprod-town-map")
            page.locator(".coprod-colour").get_by_text("taking part").click()
            page.wait_for_timeout(1500)
            assert picture(page, ".coprod-town-map") != town_efficacy
            page.screenshot(path=shots / "viz-taking-part.png")

            # Who takes part by level of involvement: the third plot changes, the others stay.
            page.locator(".coprod-who").get_by_text("by level").click()
            page.locator(".coprod-chart-levels").wait_for(timeout=UI_TIMEOUT)
            expect(page.locator(".coprod-chart-quintiles")).to_have_count(0)
            assert_on_one_screen(page, "1366x768", [*PANELS[:3], ".coprod-chart-levels", PANELS[4]])
            page.screenshot(path=shots / "viz-levels.png")
            page.locator(".coprod-who").get_by_text("by income").click()
            page.locator(".coprod-chart-quintiles").wait_for(timeout=UI_TIMEOUT)

            # Levers: values shown; the cycle switch sets its strength to 0 (one control).
            page.locator(".coprod-levers-button").click()
            levers = page.locator(".coprod-levers")
            expect(levers).to_be_visible()
            expect(levers).to_contain_text("Risk aversion: 0.50")
            expect(levers).to_contain_text("Feedback strength: 1.00")
            for lever in ("Codesign openness: 0.00", "Initiative support: 0.00", "Digital share: 0.00"):
                expect(levers).to_contain_text(lever)
            turn_the_cycle_off(page)
            expect(levers).to_contain_text("Feedback strength: 0.00")
            expect(page.locator(".coprod-levers-changed")).to_be_visible()
            for dev in ("Render Interval", "Use Threads", "Play Interval"):
                assert page.get_by_text(dev).count() == 0, dev
            page.screenshot(path=shots / "viz-levers-1366x768.png")

            # Reset: month 0 of the same town with the cycle off; the "changed" notice goes.
            start = time.perf_counter()
            page.locator(".coprod-reset").click()
            wait_for_month(page, "==", 0)
            print(f"Reset shown after {1000 * (time.perf_counter() - start):.0f} ms")
            expect(page.locator(".coprod-status")).to_contain_text("virtuous cycle off")
            expect(page.locator(".coprod-play")).to_be_enabled()
            expect(page.locator(".coprod-levers-changed")).to_have_count(0)
            page.locator(".coprod-levers-button").click()

            # Info: an overlay that closes again.
            page.locator(".coprod-info-button").click()
            expect(page.locator(".coprod-info")).to_contain_text("Things to try")
            expect(page.locator(".coprod-info")).to_contain_text("Most of the gap between participants")
            page.locator(".coprod-info-close").click()
            expect(page.locator(".coprod-info")).to_have_count(0)

            # The language switch: the same town, in French.
            page.locator(".coprod-language").click()
            expect(page.locator(".coprod-status")).to_contain_text("Mois 0")
            expect(page.locator(".coprod-reset")).to_contain_text("Recommencer")
            page.wait_for_function("document.title === 'Coproduction - page pédagogique'", timeout=UI_TIMEOUT)
        except Exception:
            page.screenshot(path=shots / "failure.png")
            print(f"\nscreenshot of the failure: {shots / 'failure.png'}")
            raise
        finally:
            context.close()

        for size, locale, lang in (("1920x1080", "en-US", "en"), ("1366x768", "fr-FR", "fr"),
                                   ("1920x1080", "fr-FR", "fr")):
            context, page = open_page(browser, server, size, locale, traffic)
            try:
                assert_on_one_screen(page, size)
                reset = "Recommencer" if lang == "fr" else "Reset"
                expect(page.locator(".coprod-reset")).to_contain_text(reset)
                for _ in range(14):
                    page.locator(".coprod-step").click()
                    page.wait_for_timeout(150)
                wait_for_month(page, ">=", 14)
                page.wait_for_timeout(1000)
                if size == "1920x1080":
                    expect(page.locator(".coprod-levers")).to_be_visible()  # a column of its own
                page.screenshot(path=shots / f"viz-{lang}-{size}.png")
            finally:
                context.close()
        browser.close()

    assert not traffic.outside, f"requests left this machine: {traffic.outside}"
    assert not traffic.errors, f"the page had errors: {traffic.errors}"


COUNT_JS = """(n) => /: (\\d+)/.exec(document.querySelector('.coprod-teacher-count')?.innerText || '')
    ?.[1] == n"""


def test_two_browser_sessions_get_their_own_towns_and_closing_one_frees_it(classroom_server, shots):
    """Classroom mode on loopback: two tabs, two towns; a Step or a lever in one leaves the
    other alone; closing a tab frees its town (the teacher's count goes down)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT)

    traffic = Traffic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        ctx_a, a = open_page(browser, classroom_server, "1366x768", "en-GB", traffic)
        ctx_b, b = open_page(browser, classroom_server, "1366x768", "fr-FR", traffic)
        try:
            expect(a.locator(".coprod-teacher-url")).to_contain_text(classroom_server.rstrip("/"))
            a.wait_for_function(COUNT_JS, arg=1, timeout=UI_TIMEOUT)  # two towns: "1 student" + teacher
            for n in range(1, 4):
                a.locator(".coprod-step").click()
                wait_for_month(a, "==", n)
            assert month(b) == 0
            a.locator(".coprod-levers-button").click()
            expect(a.locator(".coprod-levers")).to_be_visible()
            turn_the_cycle_off(a)
            expect(a.locator(".coprod-levers")).to_contain_text("Feedback strength: 0.00")
            a.locator(".coprod-reset").click()
            expect(a.locator(".coprod-status")).to_contain_text("virtuous cycle off")
            expect(b.locator(".coprod-status")).to_contain_text("leviers comme au départ")
            b.locator(".coprod-teacher .coprod-qr-button").click()
            expect(b.locator(".coprod-qr img")).to_be_visible()
            b.screenshot(path=shots / "viz-classroom-qr.png")
            b.locator(".coprod-qr button").click()
            a.close()  # the tab closes: Solara closes its kernel, our clean-up frees the town
            b.wait_for_function(COUNT_JS, arg=0, timeout=UI_TIMEOUT)
            b.locator(".coprod-step").click()
            wait_for_month(b, "==", 1)
        finally:
            ctx_a.close()
            ctx_b.close()
            browser.close()
    assert not traffic.outside, f"requests left this machine: {traffic.outside}"
    assert not traffic.errors, f"the page had errors: {traffic.errors}"
