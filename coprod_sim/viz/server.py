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

import logging
import os
import socket
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


def port_is_free(host: str, port: int) -> bool:
    """Whether a server can listen on ``host:port`` now."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError:
            return False
    return True


def serve(scenario: Path | None, host: str, port: int, citizens: int | None = None) -> None:
    """Run the page's server in this process until interrupted.

    The scenario and the town size reach the page through environment variables, which the
    page module reads when Solara imports it.
    """
    offline_environment()  # first: Solara reads its settings when first imported
    from solara.__main__ import run
    from solara.server import settings

    from coprod_sim.viz import CITIZENS_ENV, SCENARIO_ENV

    settings.telemetry.mixpanel_enable = False  # in case solara was imported before us
    # Solara warns at every page load on 127.0.0.1 that its cookie falls back to SameSite=Lax:
    # right for a page that is not embedded, and a screenful of noise in a teacher's terminal.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    forbid_cdn_fetches()
    if scenario is not None:
        os.environ[SCENARIO_ENV] = str(Path(scenario).resolve())
    else:
        os.environ.pop(SCENARIO_ENV, None)
    if citizens is not None:
        os.environ[CITIZENS_ENV] = str(citizens)
    else:
        os.environ.pop(CITIZENS_ENV, None)
    run.main(["coprod_sim.viz.app", "--host", host, "--port", str(port), "--production",
              "--no-open", "--no-check-version", "--log-level-uvicorn", "warning"],
             prog_name="coprod viz", standalone_mode=False)
