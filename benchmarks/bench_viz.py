"""How long one month of the teaching page takes at 1,000 citizens (target: under 250 ms).

    .venv/bin/python benchmarks/bench_viz.py                # the server's share: step and render
    .venv/bin/python benchmarks/bench_viz.py --browser      # also Step -> updated page, in Chromium

The server's share is what the page does each month: the model's step, the town redrawn and
encoded as PNG, the four plots, the status line. ``--browser`` serves the page with
``coprod viz`` and clicks Step in headless Chromium, timing each click until the page shows the
new month (websocket, rendering and image decoding included). Figures are printed, never
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

TARGET_MS = 250.0


def summary(label: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return (f"{label:<34} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   "
            f"max {ms[-1]:7.1f} ms   (n={len(ms)})")


def bench_server(citizens: int, months: int) -> None:
    from coprod_sim.params import Parameters
    from coprod_sim.viz.app import model_params
    from coprod_sim.viz.charts import charts_for
    from coprod_sim.viz.controls import TownModel
    from coprod_sim.viz.info import status
    from coprod_sim.viz.town import COLOUR_BY, town_view

    base = Parameters({"population.n_citizens": citizens})
    kwargs = {k: (v["value"] if isinstance(v, dict) else v) for k, v in model_params(base).items()}
    t = time.perf_counter()
    model = TownModel(**kwargs)
    build = time.perf_counter() - t
    t = time.perf_counter()
    view, charts = town_view(model), charts_for(model)
    for colour in COLOUR_BY:
        view.picture(colour)
    for chart in charts.values():
        chart.png(model)
    first = time.perf_counter() - t
    print(f"town of {citizens:,} citizens: model built in {1000 * build:.0f} ms; first frame "
          f"(layout, static layers of the town in both colourings and of the plots) {1000 * first:.0f} ms")

    parts: dict[str, list[float]] = {k: [] for k in ("step", "town", "plots", "status", "total")}
    cpu: list[float] = []
    for m in range(months):
        c0 = time.process_time()
        t0 = time.perf_counter()
        model.step()
        t1 = time.perf_counter()
        view.picture(COLOUR_BY[m % 2])  # the colour switch costs nothing extra once drawn
        t2 = time.perf_counter()
        for chart in charts.values():
            chart.png(model)
        t3 = time.perf_counter()
        status(model, base)
        t4 = time.perf_counter()
        cpu.append(1000 * (time.process_time() - c0))
        for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
            parts[key].append(1000 * dt)
    print(f"server side, one month ({months} months, wall clock):")
    for key, ms in parts.items():
        print("  " + summary(key, ms))
    print("  " + summary("total, CPU time of this process", cpu))
    verdict = "under" if statistics.median(parts["total"]) < TARGET_MS else "OVER"
    print(f"  median total is {verdict} the {TARGET_MS:.0f} ms target")


def bench_browser(clicks: int) -> None:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "coprod_sim.cli.app", "viz", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit("coprod viz did not start")
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1440, "height": 1500})
            page.goto(url, timeout=120_000)
            step = page.get_by_role("button", name="Step")
            step.wait_for(timeout=120_000)
            page.locator(".coprod-chart-risk_aversion").wait_for(timeout=120_000)
            status = page.locator(".coprod-status")

            def month() -> int:
                return int(re.match(r"Month (\d+)", status.inner_text()).group(1))

            ms = []
            for _ in range(clicks):
                before = month()
                t = time.perf_counter()
                step.click()
                page.wait_for_function(
                    "m => (document.querySelector('.coprod-status')?.innerText || '')"
                    ".startsWith('Month ' + m + ' ')", arg=before + 1, polling="raf", timeout=60_000)
                ms.append(1000 * (time.perf_counter() - t))
                page.wait_for_timeout(200)
            browser.close()
        print("in the browser, Step clicked until the page shows the new month:")
        print("  " + summary("click -> page updated", ms))
        verdict = "under" if statistics.median(ms) < TARGET_MS else "OVER"
        print(f"  median is {verdict} the {TARGET_MS:.0f} ms target")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--citizens", type=int, default=1000)
    ap.add_argument("--months", type=int, default=60, help="months stepped on the server side")
    ap.add_argument("--browser", action="store_true", help="also time Step in headless Chromium")
    ap.add_argument("--clicks", type=int, default=15)
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs "
          f"(figures are slower on a busy machine)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    bench_server(args.citizens, args.months)
    if args.browser:
        bench_browser(args.clicks)


if __name__ == "__main__":
    main()
