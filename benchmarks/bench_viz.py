"""How fast the teaching page is at 1,000 citizens: a month on the server, Reset, start-up,
and a Step click's round trip in a real browser.

    .venv/bin/python benchmarks/bench_viz.py                # the server's share: month and Reset
    .venv/bin/python benchmarks/bench_viz.py --browser      # also start-up, Step and Reset in Chromium

Targets (issue: a teaching page that holds a classroom), on a quiet machine: a month at most
100 ms on the server; Reset at most 2 s; the page answers within 5 s of ``coprod viz``; a Step
click's browser round trip at most 400 ms at the 95th percentile. Figures are printed, never
asserted: the machine may be shared, so the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MONTH_MS, RESET_MS, START_S, STEP_P95_MS = 100.0, 2000.0, 5.0, 400.0


def pct(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]


def summary(label: str, ms: list[float]) -> str:
    return (f"{label:<34} median {statistics.median(ms):7.1f} ms   p95 {pct(ms, 0.95):7.1f} ms   "
            f"max {max(ms):7.1f} ms   (n={len(ms)})")


def verdict(value: float, target: float, what: str) -> str:
    return f"  {what} {value:.0f} is {'under' if value <= target else 'OVER'} the {target:.0f} target"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} on {os.cpu_count()} CPUs"


def bench_server(citizens: int, months: int) -> None:
    from coprod_sim.params import Parameters
    from coprod_sim.viz.charts import CHARTS
    from coprod_sim.viz.info import status
    from coprod_sim.viz.session import Town
    from coprod_sim.viz.town import COLOUR_BY

    base = Parameters({"population.n_citizens": citizens})
    t = time.perf_counter()
    town = Town(base, "en")
    build = time.perf_counter() - t
    t = time.perf_counter()
    for colour in COLOUR_BY:
        town.town_frame(colour)
    for name in CHARTS:
        town.chart_frame(name)
    first = time.perf_counter() - t
    print(f"town of {citizens:,} citizens: first model (and layout) {1000 * build:.0f} ms; first frame "
          f"(static layers of the town in both colourings and of the plots) {1000 * first:.0f} ms")

    # What the page does for a month: the marks and colours the browser paints (pictures.vue);
    # the pictures themselves are painted in the browser.
    keys = ("step + event study", "town marks", "plot marks", "status", "total")
    parts: dict[str, list[float]] = {k: [] for k in keys}
    cpu: list[float] = []
    for m in range(months):
        c0 = time.process_time()
        t0 = time.perf_counter()
        town.step()
        t1 = time.perf_counter()
        town.town_frame(COLOUR_BY[m % 2])
        t2 = time.perf_counter()
        for name in CHARTS:
            town.chart_frame(name)
        t3 = time.perf_counter()
        status(town.model, town.applied, base)
        t4 = time.perf_counter()
        cpu.append(1000 * (time.process_time() - c0))
        for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
            parts[key].append(1000 * dt)
    print(f"server side, one month ({months} months, wall clock, {load()}):")
    for key, ms in parts.items():
        print("  " + summary(key, ms))
    print("  " + summary("total, CPU time of this process", cpu))
    print(verdict(statistics.median(parts["total"]), MONTH_MS, "median month (ms)"))

    resets = []
    for _ in range(5):
        t = time.perf_counter()
        town.reset(town.applied)
        town.town_frame()
        for name in CHARTS:
            town.chart_frame(name)
        resets.append(1000 * (time.perf_counter() - t))
    print("  " + summary("Reset (model + first frame)", resets))
    print(verdict(max(resets), RESET_MS, "slowest Reset (ms)"))


def start_server() -> tuple[subprocess.Popen, str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "coprod_sim.cli.app", "viz", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return proc, url, time.perf_counter() - t
        except OSError:
            if time.perf_counter() - t > 300 or proc.poll() is not None:
                sys.exit("coprod viz did not start")
            time.sleep(0.1)


def bench_browser(clicks: int) -> None:
    from playwright.sync_api import sync_playwright

    proc, url, started = start_server()
    print(f"coprod viz -> first HTTP answer: {started:.1f} s ({load()})")
    print(verdict(started, START_S, "start-up (s)"))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            t = time.perf_counter()
            page.goto(url, timeout=120_000)
            page.locator(".coprod-step").wait_for(timeout=120_000)
            page.locator(".coprod-chart-concentration").wait_for(timeout=120_000)
            print(f"page opened -> town and plots shown: {time.perf_counter() - t:.1f} s")
            status = page.locator(".coprod-status")

            def month() -> int:
                return int(re.match(r"Month (\d+)", status.inner_text()).group(1))

            def click_until(selector: str, target: int) -> float:
                t = time.perf_counter()
                page.locator(selector).click()
                page.wait_for_function(
                    "m => (document.querySelector('.coprod-status')?.innerText || '')"
                    ".startsWith('Month ' + m + ' ')", arg=target, polling="raf", timeout=60_000)
                return 1000 * (time.perf_counter() - t)

            steps = []
            for _ in range(clicks):
                steps.append(click_until(".coprod-step", month() + 1))
                page.wait_for_timeout(200)
            resets = [click_until(".coprod-reset", 0) for _ in range(3)]
            browser.close()
        print(f"in the browser, click until the page shows the new month ({load()}):")
        print("  " + summary("Step", steps))
        print(verdict(pct(steps, 0.95), STEP_P95_MS, "Step p95 (ms)"))
        print("  " + summary("Reset", resets))
        print(verdict(max(resets), RESET_MS, "slowest Reset (ms)"))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--citizens", type=int, default=1000)
    ap.add_argument("--months", type=int, default=60, help="months stepped on the server side")
    ap.add_argument("--browser", action="store_true", help="also time start-up, Step and Reset in Chromium")
    ap.add_argument("--clicks", type=int, default=20)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(f"{load()} (figures are slower on a busy machine)")
    bench_server(args.citizens, args.months)
    if args.browser:
        bench_browser(args.clicks)


if __name__ == "__main__":
    main()
