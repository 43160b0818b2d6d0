"""A class of 30 on one laptop: `coprod viz --classroom` driven by 30 sessions at once.

    .venv/bin/python benchmarks/load_classroom.py                  # 30 sessions: 2 browsers + 28 clients
    .venv/bin/python benchmarks/load_classroom.py --sessions 10 --seconds 60

Starts the server on a loopback address only (it refuses any other), opens the sessions in
waves of five (a class arrives over a minute), then each session, for ``--seconds``, waits
1-3 s, clicks Step and times it until its page shows the next month; every fifth action it
moves a lever (risk aversion) and presses Reset instead. Two sessions are real browsers
(headless Chromium through Playwright); the others are websocket clients that speak Solara's
protocol (Jupyter's kernel and widget messages), as a browser does, without drawing.

Reports the step latency per session (median, 95th percentile), overall, the errors (the
clients' and the tracebacks in the server's log), and the
server's memory (resident set): idle (started and warmed up, before any session connects),
after one session and then ten are opened and closed (``--cycles``: an excess that appears
with the first session is one-time state the idle server lacks), with 1, 10 and 30 sessions
open, and 5, 30 and 120 s after all of them close. Targets: p95 step at most 1 s with 30 sessions of 1,000
citizens; memory back within 10% of the idle server; no errors. Figures are printed, never
asserted; the load average is printed beside them (the machine may be shared).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

import psutil
from websockets.sync.client import connect

STATUS = re.compile(r"^Month (\d+)")
TAGS = re.compile(r"<[^>]*>")


def texts(state: dict) -> list[str]:
    """The words a widget shows: its text children, or its HTML without the tags (the page
    writes the status line and the lesson in one HTML widget)."""
    out = [ch for ch in state.get("children") or [] if isinstance(ch, str)]
    inner = state.get("unsafe_innerHTML")
    if isinstance(inner, str):
        out.append(TAGS.sub("\n", inner).strip())
    return out
warnings.filterwarnings("ignore", message="connect\\(\\) must be used as a context manager")


def message(msg_type: str, content: dict, session: str) -> str:
    return json.dumps({"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session,
                                  "username": "load", "date": "2026-01-01T00:00:00Z", "version": "5.3"},
                       "parent_header": {}, "metadata": {}, "content": content, "channel": "shell",
                       "buffers": []})


def decode(raw: str | bytes) -> dict:
    """A Jupyter message from a text frame, or from a binary one (offsets, then JSON, then buffers)."""
    if isinstance(raw, str):
        return json.loads(raw)
    n = struct.unpack("!i", raw[:4])[0]
    offsets = [*struct.unpack("!" + "I" * n, raw[4:4 * (n + 1)]), None]
    return json.loads(raw[offsets[0]:offsets[1]].decode())


class Client:
    """One student's tab without a browser: the page's widgets kept in sync over Solara's websocket."""

    def __init__(self, url: str):
        jar = CookieJar()
        urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)).open(url).read()
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        self.url, self.kernel, self.page = url, str(uuid.uuid4()), str(uuid.uuid4())
        ws_url = (url.replace("http", "ws", 1)
                  + f"jupyter/api/kernels/{self.kernel}/channels?session_id={self.page}")
        # No keepalive pings: a browser sends none, and a busy server answers them late.
        # A closing tab does not wait for the websocket's closing handshake: nor does this client
        # (its reader stops once its queue is full, and close() then waited 10 s a client).
        self.ws = connect(ws_url, additional_headers={"Cookie": cookie, "Accept-Language": "en"},
                          max_size=None, ping_interval=None, close_timeout=1)
        self.widgets: dict[str, dict] = {}
        self.risk_slider: str | None = None
        control = uuid.uuid4().hex
        self.send("comm_open", {"comm_id": control, "target_name": "solara.control", "data": {}})
        self.send("comm_msg", {"comm_id": control,
                               "data": {"method": "run", "args": {"path": "", "appName": None}}})
        self.wait(lambda m: m["msg_type"] == "comm_msg"
                  and m["content"].get("data", {}).get("method") == "finished", 300)

    def send(self, msg_type: str, content: dict) -> None:
        self.ws.send(message(msg_type, content, self.page))

    def recv(self, timeout: float) -> dict:
        m = decode(self.ws.recv(timeout=timeout))
        kind, c = m["header"]["msg_type"], m.get("content", {})
        if kind == "comm_open" and c.get("target_name") == "jupyter.widget":
            self.widgets[c["comm_id"]] = c["data"].get("state", {})
        elif kind == "comm_msg" and c.get("data", {}).get("method") == "update":
            self.widgets.setdefault(c["comm_id"], {}).update(c["data"].get("state", {}))
        elif kind == "comm_close":
            self.widgets.pop(c.get("comm_id"), None)
        return {"msg_type": kind, "content": c}

    def wait(self, done, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not done(self.recv(max(0.01, end - time.monotonic()))):
            pass

    def find(self, model: str, **state) -> str:
        for comm_id, st in self.widgets.items():
            if st.get("_model_name") == model and all(st.get(k) == v for k, v in state.items()):
                return comm_id
        raise KeyError(f"no {model} with {state}")

    def month(self) -> int:
        return int(STATUS.match(self.status()).group(1))

    def click(self, label: str) -> None:
        self.send("comm_msg", {"comm_id": self.find("BtnModel", children=[label]),
                               "data": {"method": "custom", "content": {"event": "click", "data": {}}}})

    def until_month(self, target: int, timeout: float = 120) -> None:
        # an update of the status line (or a new status widget)
        def shown(m: dict) -> bool:
            state = m["content"].get("data", {}).get("state", {})
            return any(s.startswith(f"Month {target} ") for s in texts(state))

        self.wait(shown, timeout)

    def step(self) -> float:
        month, t = self.month(), time.perf_counter()
        self.click("Step")
        self.until_month(month + 1)
        return 1000 * (time.perf_counter() - t)

    def lever_and_reset(self, value: float) -> None:
        """Risk aversion (the slider from 0 to 1 by 0.02 that starts at 0.5) to ``value``, then Reset."""
        if self.risk_slider is None:
            self.risk_slider = next(cid for cid, st in self.widgets.items()
                                    if st.get("_model_name") == "SliderModel" and st.get("step") == 0.02
                                    and st.get("max") == 1 and st.get("v_model") == 0.5)
        slider = self.risk_slider
        self.send("comm_msg", {"comm_id": slider, "data": {"method": "update", "state": {"v_model": value},
                                                            "buffer_paths": []}})
        time.sleep(0.2)
        self.click("Reset")
        self.until_month(0)
        status = self.status()
        if f"risk aversion {value:.2f}" not in status:
            raise RuntimeError(f"the lever did not take: status {status!r}")

    def status(self) -> str:
        return next(line for st in self.widgets.values() for text in texts(st)
                    for line in text.splitlines() if STATUS.match(line))

    def close(self) -> None:
        """As a closing tab does: tell the server (the page's beacon), then hang up."""
        req = urllib.request.Request(f"{self.url}_solara/api/close/{self.kernel}?session_id={self.page}",
                                     method="POST", data=b"")
        try:
            urllib.request.urlopen(req, timeout=10).read()
        finally:
            self.ws.close()


class Browser:
    """One student's tab in headless Chromium. Playwright's sync API is bound to the thread that
    started it, so every call runs in this tab's own single worker thread."""

    def __init__(self, url: str):
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser")
        self.worker.submit(self._open, url).result()

    def _open(self, url: str) -> None:
        from playwright.sync_api import sync_playwright

        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path="/usr/bin/chromium",
                                               args=["--no-sandbox", "--disable-gpu"])
        context = self.browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-GB")
        self.page = context.new_page()
        self.page.goto(url, timeout=300_000)
        self.page.locator(".coprod-chart-concentration").wait_for(timeout=300_000)

    def _until_month(self, target: int) -> None:
        self.page.wait_for_function(
            "m => (document.querySelector('.coprod-status')?.innerText || '').startsWith('Month ' + m + ' ')",
            arg=target, polling="raf", timeout=120_000)

    def _step(self) -> float:
        month = int(STATUS.match(self.page.locator(".coprod-status").inner_text()).group(1))
        t = time.perf_counter()
        self.page.locator(".coprod-step").click()
        self._until_month(month + 1)
        return 1000 * (time.perf_counter() - t)

    def _reset(self) -> None:
        self.page.locator(".coprod-reset").click()  # a slider moved by mouse is fragile: Reset alone
        self._until_month(0)

    def _close(self) -> None:
        self.page.close()
        self.browser.close()
        self.pw.stop()

    def step(self) -> float:
        return self.worker.submit(self._step).result()

    def lever_and_reset(self, value: float) -> None:
        self.worker.submit(self._reset).result()

    def close(self) -> None:
        try:  # a browser that does not close in a minute is an error, not a hung benchmark
            self.worker.submit(self._close).result(timeout=60)
        finally:
            self.worker.shutdown(wait=False)


def start_server(host: str, citizens: int, log: Path) -> tuple[subprocess.Popen, str]:
    """``coprod viz --classroom`` on ``host``, its output in ``log`` (read for errors at the end)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    url = f"http://{host}:{port}/"
    with open(log, "wb") as out:
        command = [sys.executable, "-m", "coprod_sim.cli.app", "viz", "--classroom", "--host", host,
                   "--port", str(port), "--citizens", str(citizens), "--max-sessions", "45"]
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    t = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return proc, url
        except OSError:
            if time.monotonic() - t > 300 or proc.poll() is not None:
                sys.exit("coprod viz did not start")
            time.sleep(0.2)


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time (user and system) a process has used so far, its threads and children included."""
    t = process.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} on {os.cpu_count()} CPUs"


class Run:
    def __init__(self, url: str, server: psutil.Process):
        self.url, self.server = url, server
        self.sessions: list[Client | Browser] = []
        self.latency: dict[int, list[float]] = {}
        self.errors: list[str] = []
        self.resets = 0
        self.lock = threading.Lock()

    def rss(self) -> float:
        return self.server.memory_info().rss / 2**20

    def open(self, n: int, browsers: int, report_at: tuple[int, ...]) -> dict[int, float]:
        memory, tries = {}, 0
        while len(self.sessions) < n and tries < 2 * n:  # a session that fails to open is an error
            # waves of five, cut at each count to report (the first session is measured alone)
            now = len(self.sessions)
            wave = range(now, min([n, now + 5] + [k for k in report_at if k > now]))
            tries += len(wave)
            threads = [threading.Thread(target=self._open_one, args=(i, i < browsers)) for i in wave]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            for k in report_at:
                if k not in memory and len(self.sessions) >= k:
                    memory[k] = self.rss()
        return memory

    def _open_one(self, i: int, browser: bool) -> None:
        try:
            session = Browser(self.url) if browser else Client(self.url)
            with self.lock:
                self.sessions.append(session)
        except Exception as e:
            self.errors.append(f"open {i}: {e!r}")

    def drive(self, seconds: float) -> None:
        end = time.monotonic() + seconds

        def student(k: int, s: Client | Browser) -> None:
            out = self.latency.setdefault(k, [])
            rng = random.Random(k)
            action = 0
            try:
                while time.monotonic() < end:
                    time.sleep(rng.uniform(1.0, 3.0))
                    action += 1
                    if action % 5 == 0:
                        s.lever_and_reset(rng.choice([0.2, 0.3, 0.7]))
                        with self.lock:
                            self.resets += 1
                    else:
                        out.append(s.step())
            except Exception as e:
                self.errors.append(f"session {k} ({type(s).__name__}): {e!r}")

        threads = [threading.Thread(target=student, args=(k, s)) for k, s in enumerate(self.sessions)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    def close(self) -> None:
        """Every tab closes at once, as a class leaving."""
        def close_one(s: Client | Browser) -> None:
            try:
                s.close()
            except Exception as e:
                self.errors.append(f"close: {e!r}")

        threads = [threading.Thread(target=close_one, args=(s,)) for s in self.sessions]
        for th in threads:
            th.start()
        for th in threads:
            th.join()


def towns_open(url: str) -> int:
    """Towns the server holds, read on a new page (every loopback page is the teacher's, whose
    count leaves out itself)."""
    probe = Client(url)
    try:
        count = next(ch for st in probe.widgets.values() if isinstance(st.get("children"), list)
                     for ch in st["children"] if isinstance(ch, str) and ch.startswith("Students connected"))
        return int(re.search(r": (\d+)", count).group(1))
    finally:
        probe.close()


def server_errors(log: Path) -> list[str]:
    """The exceptions the server logged: each traceback's last line (the server's own errors,
    which no client sees)."""
    lines = log.read_text(errors="replace").splitlines()
    errors = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith((" ", "Traceback"))),
                       len(lines) - 1)
            errors.append(f"server: {lines[end].strip()} (log {log})")
    return errors


def pct(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]


def settle(server: psutil.Process, quiet: float = 0.05, every: float = 2.0, limit: float = 300) -> float:
    """Wait until the server is idle (under ``quiet`` CPU seconds in ``every`` seconds: its
    warm-up or its give-back done); the seconds waited."""
    t = time.monotonic()
    before = cpu_seconds(server)
    while time.monotonic() - t < limit:
        time.sleep(every)
        now = cpu_seconds(server)
        if now - before < quiet:
            break
        before = now
    return time.monotonic() - t


def after_close(server: psutil.Process) -> None:
    """Wait for the give-back the server runs 5 s after the first of a class's tabs closes."""
    time.sleep(8)
    settle(server)


def measured(run: Run, what: str) -> float:
    """The server's memory now, printed with the load average (a hook for probes)."""
    mb = run.rss()
    print(f"  server memory {what}: {mb:.0f} MB ({load()})", flush=True)
    return mb


def cycle(url: str, server: psutil.Process, n: int, browsers: int, idle: float) -> list[str]:
    """Open ``n`` sessions, have each step three times and move a lever with Reset, close them
    all; the server's memory once it has given back. Its errors."""
    run = Run(url, server)
    run.open(n, min(browsers, n), ())
    for s in run.sessions:
        try:
            for _ in range(3):
                s.step()
            s.lever_and_reset(0.3)
        except Exception as e:
            run.errors.append(f"cycle of {n}: {e!r}")
    run.close()
    after_close(server)
    mb = measured(run, f"after {n} session{'s' * (n > 1)} opened and closed")
    print(f"    {100 * (mb - idle) / idle:+.1f}% of idle")
    return run.errors


def a_class(run: Run, args: argparse.Namespace, idle: float) -> list[str]:
    """The class: ``args.sessions`` sessions open, step for ``args.seconds``, then all close;
    latency, CPU and memory printed. Its errors."""
    marks = tuple(k for k in (1, 10, 30, args.sessions) if k <= args.sessions)
    t = time.monotonic()
    memory = run.open(args.sessions, args.browsers, marks)
    print(f"{len(run.sessions)} sessions open in {time.monotonic() - t:.0f} s ({load()})")
    for k, mb in sorted(memory.items()):
        print(f"  server memory with {k:>2} sessions: {mb:6.0f} MB "
              f"({(mb - idle) / k:+.1f} MB per session)")
    cpu0, client0 = cpu_seconds(run.server), cpu_seconds(psutil.Process())
    run.drive(args.seconds)
    server_cpu, client_cpu = cpu_seconds(run.server) - cpu0, cpu_seconds(psutil.Process()) - client0
    actions = sum(len(ms) for ms in run.latency.values()) + run.resets
    print(f"server CPU while stepping: {server_cpu:.1f} s in {args.seconds:.0f} s "
          f"({100 * server_cpu / args.seconds:.0f}% of one core) for {actions} steps and Resets: "
          f"{1000 * server_cpu / max(actions, 1):.0f} ms each; the clients' process "
          f"{100 * client_cpu / args.seconds:.0f}% of one core")
    print(f"step latency, {args.seconds:.0f} s of stepping ({load()}):")
    for k, ms in sorted(run.latency.items()):
        if ms:
            kind = type(run.sessions[k]).__name__.lower()
            print(f"  session {k:>2} ({kind:<7}) {len(ms):>3} steps: "
                  f"median {statistics.median(ms):6.0f} ms   p95 {pct(ms, 0.95):6.0f} ms")
    every = [x for ms in run.latency.values() for x in ms]
    if every:
        print(f"  all sessions, {len(every)} steps: median {statistics.median(every):.0f} ms, "
              f"p95 {pct(every, 0.95):.0f} ms, max {max(every):.0f} ms (target p95 <= 1000 ms)")
    peak = run.rss()
    run.close()
    closed_at = time.monotonic()
    for wait in (5, 30, 120):
        time.sleep(max(0.0, closed_at + wait - time.monotonic()))
        mb = measured(run, f"{wait} s after all closed")
        # At 5 s the server is still giving back: its idle threads are retired from 12 s on.
        target = "target within 10%" if wait >= 30 else "still giving back; the target is read from 30 s"
        print(f"    peak {peak:.0f} MB; {100 * (mb - idle) / idle:+.1f}% of idle ({target}); "
              f"{run.server.num_threads()} threads")
    # Counted last: the count is read on a new page, whose own town would be in the figures.
    print(f"  towns open: {towns_open(run.url)}")
    return run.errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1", help="a loopback address (anything else is refused)")
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--browsers", type=int, default=2, help="how many of the sessions are real browsers")
    ap.add_argument("--seconds", type=float, default=90, help="how long the class steps")
    ap.add_argument("--citizens", type=int, default=1000)
    ap.add_argument("--cycles", default="1,10", metavar="N,N",
                    help="before the class, open and close this many sessions, one group after the "
                         "other, and print the memory after each (where the excess appears); '' for none")
    args = ap.parse_args()
    if not ipaddress.ip_address(args.host).is_loopback:
        sys.exit(f"--host {args.host}: the load test runs on a loopback address only (e.g. 127.0.0.1)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    log = Path(tempfile.mkdtemp(prefix="coprod-load-")) / "server.log"
    proc, url = start_server(args.host, args.citizens, log)
    os.nice(10)  # the clients only (the server, started before, keeps its priority)
    server = psutil.Process(proc.pid)
    try:
        waited = settle(server)  # the server's own warm-up, in the background after it answers
        run = Run(url, server)
        # Idle: the server as a teacher starts it, before any student connects.
        idle = run.rss()
        print(f"{load()}; server idle (warm-up done {waited:.0f} s after it answered, no session yet): "
              f"{idle:.0f} MB", flush=True)
        errors = [e for n in (int(k) for k in args.cycles.split(",") if k.strip())
                  for e in cycle(url, server, n, args.browsers, idle)]
        if args.sessions:
            errors += a_class(run, args, idle)
        errors += server_errors(log)
        print(f"errors (the clients' and the server's): {len(errors)}" + "".join(f"\n  {e}" for e in errors))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
