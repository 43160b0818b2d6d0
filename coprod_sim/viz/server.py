"""Serve the teaching page with Solara, offline.

Solara reaches the internet in four ways unless told not to; each is shut here:

- its JavaScript and CSS come from a CDN through a local proxy, whose cache the
  ``solara-assets`` package fills; a file missing from it would be fetched from the CDN, so
  the fetch is replaced by an error naming the file (nothing leaves the machine, and the
  browser test sees the failure);
- ``solara run`` checks PyPI for a newer version (``--no-check-version``);
- development mode embeds an iframe from solara.dev (``--production``);
- the server sends usage telemetry (``SOLARA_TELEMETRY_MIXPANEL_ENABLE=false``).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import socket
import sys
import warnings
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_CITIZENS = 2_000
"""The page draws every citizen each month; beyond this it stops being smooth."""

log = logging.getLogger("coprod.viz")


class OfflineAssetError(RuntimeError):
    """Solara asked for a file that solara-assets does not ship; we do not fetch it."""


def offline_environment() -> None:
    """Settings read by Solara when it is imported: call before importing solara."""
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"
    os.environ["SOLARA_ASSETS_PROXY"] = "true"  # serve solara-assets' files from this server
    os.environ.setdefault("MPLBACKEND", "Agg")


def forbid_cdn_fetches() -> None:
    """Make Solara's asset proxy fail, rather than download, on a file it does not have."""
    from solara.server import cdn_helper

    def refuse(url: str) -> bytes:
        log.error("offline: %s is not shipped by solara-assets and will not be fetched", url)
        raise OfflineAssetError(f"offline: {url} is not shipped by solara-assets")

    cdn_helper.fetch_from_cdn = refuse


def port_problem(host: str, port: int) -> str | None:
    """Why a server cannot listen on ``host:port`` now, in plain words; None if it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return f"{host} is not an address of this computer"
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except PermissionError:
            return (f"port {port} is reserved for the system (ports below 1024 need administrator"
                    " rights)")
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return f"port {port} is already in use (another program, or another coprod viz)"
            return f"{host} is not an address of this computer ({e.strerror})"
    return None


def port_is_free(host: str, port: int) -> bool:
    """Whether a server can listen on ``host:port`` now."""
    return port_problem(host, port) is None


SYSTEM_MALLOC_ENV = "PYTHONMALLOC"
TUNABLES_ENV = "GLIBC_TUNABLES"
THREAD_CACHE_TUNABLE = "glibc.malloc.tcache_count"
NO_THREAD_CACHE = f"{THREAD_CACHE_TUNABLE}=0"


def system_malloc_command(orig_argv: list[str], argv: list[str], environ: dict[str, str],
                          platform: str = sys.platform) -> list[str] | None:
    """The command line to run this server again with Python's objects on glibc's malloc
    (``PYTHONMALLOC=malloc``) and glibc's per-thread caches off
    (:func:`system_malloc_environment`), or None to serve in this process.

    Python keeps small objects in 1 MiB arenas of its own and returns an arena to the system
    only when every object in it is gone: after a class leaves, the few objects that outlive
    the towns (caches, the server's own) pin most arenas, and the server stays near its peak
    (+50% of idle after 30 towns). On glibc's malloc the freed memory is trimmed back
    (:func:`coprod_sim.viz.session.give_back_memory`). The variable must be set before the
    interpreter starts, hence the new process; it is the same command (``orig_argv``: a
    ``python -c`` guard such as the tests' audit hook runs again), and it is skipped when both
    variables are set (the new process itself, or a user's own choice of both), off Linux
    (glibc), and when ``coprod viz`` is not this process's own command line (a test calling it
    in-process).
    """
    settled = SYSTEM_MALLOC_ENV in environ and THREAD_CACHE_TUNABLE in environ.get(TUNABLES_ENV, "")
    if platform != "linux" or not argv[1:] or settled:
        return None
    if orig_argv[len(orig_argv) - len(argv) + 1:] != argv[1:] or "viz" not in argv[1:]:
        return None
    return list(orig_argv)


def system_malloc_environment(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with Python's objects on glibc's malloc and glibc's per-thread caches off.

    glibc keeps a small cache of freed chunks in every thread (tcache), which ``malloc_trim``
    does not empty. Solara serves tabs from a pool of worker threads that outlives them: after
    a class of 30 closes at once, about 55 idle threads each hold their cache, and each cached
    chunk pins the page it lies on, so the server stayed 18-20% above idle instead of 8%
    (``docs/performance.md``). Without the cache, malloc takes its arena's lock for every call:
    no slower here, as the GIL already lets one thread allocate at a time. A user's own
    ``tcache_count`` in ``GLIBC_TUNABLES`` is kept."""
    env = {SYSTEM_MALLOC_ENV: "malloc", **environ}  # a user's own PYTHONMALLOC is kept
    tunables = environ.get(TUNABLES_ENV, "")
    if THREAD_CACHE_TUNABLE not in tunables:
        env[TUNABLES_ENV] = f"{tunables}:{NO_THREAD_CACHE}" if tunables else NO_THREAD_CACHE
    return env


def serve_on_system_malloc() -> None:
    """Replace this process by the same command under ``PYTHONMALLOC=malloc``, without glibc's
    per-thread caches (Linux only; returns at once when :func:`system_malloc_command` says to
    serve here)."""
    command = system_malloc_command(sys.orig_argv, sys.argv, dict(os.environ))
    if command is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, system_malloc_environment(dict(os.environ)))


def fewer_malloc_arenas() -> None:
    """Ask glibc for at most two malloc arenas (Linux only; a no-op elsewhere).

    Solara serves every tab from its own threads, and glibc gives threads their own arenas,
    each keeping the memory its tabs freed: the server's size then stays near its peak after a
    class leaves. With two arenas, what closed towns free is reused and trimmed."""
    if os.name != "posix":
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def solara_settings(classroom: bool) -> None:
    """Solara's settings for a classroom page: no "runs on Solara" badge over the plots, a
    plain loader, our tab title; in classroom mode, a tab whose connection dropped without a
    goodbye (a phone asleep) is closed after 90 s instead of Solara's 24 h, freeing its town."""
    from solara.server import settings

    settings.telemetry.mixpanel_enable = False  # in case solara was imported before us
    settings.theme.show_banner = False
    settings.theme.loader = "plain"
    settings.theme.title = "Coproduction"
    settings.kernel.cull_timeout = "90s" if classroom else "10m"


def serve(scenario: Path | None, host: str, port: int, citizens: int | None = None,
          lang: str | None = None, classroom_url: str | None = None, max_sessions: int = 8,
          idle_minutes: float = 20.0) -> None:
    """Run the page's server in this process until interrupted.

    The scenario, the town size, the language and the classroom address reach the page
    through environment variables, which the page module reads when Solara imports it.
    """
    offline_environment()  # first: Solara reads its settings when first imported
    fewer_malloc_arenas()  # before the server starts its threads
    from solara.__main__ import run

    from coprod_sim.viz import CITIZENS_ENV, LANG_ENV, SCENARIO_ENV, SERVING_ENV
    from coprod_sim.viz.classroom import CLASSROOM_URL_ENV
    from coprod_sim.viz.session import LIMITS

    solara_settings(classroom_url is not None)
    LIMITS.max_sessions, LIMITS.idle_minutes = max_sessions, idle_minutes
    # Solara warns at every page load on 127.0.0.1 that its cookie falls back to SameSite=Lax:
    # right for a page that is not embedded, and a screenful of noise in a teacher's terminal.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    forbid_cdn_fetches()
    for name, value in ((SCENARIO_ENV, None if scenario is None else str(Path(scenario).resolve())),
                        (CITIZENS_ENV, None if citizens is None else str(citizens)),
                        (LANG_ENV, lang), (CLASSROOM_URL_ENV, classroom_url), (SERVING_ENV, "1")):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    run.main(["coprod_sim.viz.app", "--host", host, "--port", str(port), "--production",
              "--no-open", "--no-check-version", "--log-level-uvicorn", "warning", "--theme-loader", "plain"],
             prog_name="coprod viz", standalone_mode=False)
