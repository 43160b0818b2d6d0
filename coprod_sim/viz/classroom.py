"""Classroom mode: the address students type, its QR code, and the teacher's panel.

``coprod viz --classroom`` listens on the room's network (an explicit choice: the default is
this computer only) and prints the address and a QR code; the page opened on the teacher's
own computer (through 127.0.0.1 or localhost) shows them too, with the number of students
connected. Every browser tab gets its own town (:mod:`coprod_sim.viz.session`).
"""

from __future__ import annotations

import ipaddress
import os
import socket

import solara

from coprod_sim.viz.i18n import t
from coprod_sim.viz.session import LIMITS, session_count

CLASSROOM_URL_ENV = "COPROD_VIZ_CLASSROOM_URL"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")


def lan_address() -> str | None:
    """This computer's address on the local network, or None if it has none.

    A UDP socket "connected" to a private address makes the system choose the interface it
    would use; no packet is sent."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


def qr_terminal(url: str) -> str:
    """The QR code of ``url`` drawn with block characters, for the terminal."""
    import io

    import segno

    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def qr_data_uri(url: str) -> str:
    """The QR code of ``url`` as an SVG data URI, for the teacher's page."""
    import segno

    return segno.make(url, error="m").svg_data_uri(scale=6, border=2)


def classroom_url() -> str | None:
    """The address students type, when the server runs in classroom mode."""
    return os.environ.get(CLASSROOM_URL_ENV) or None


def is_teacher(headers: dict) -> bool:
    """Whether the session is the teacher's: classroom mode, opened on this computer."""
    if classroom_url() is None:
        return False
    host = (headers.get("host") or [""])[0]
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in LOOPBACK_NAMES


@solara.component
def TeacherPanel(lang: str):
    url = classroom_url()
    show_qr, set_show_qr = solara.use_state(False)
    n, set_n = solara.use_state(session_count())

    def poll(cancel) -> None:  # the count changes as students arrive: look every 5 s
        while not cancel.wait(5.0):
            set_n(session_count())

    solara.use_thread(poll, dependencies=[], intrusive_cancel=False)
    with solara.Div(classes=["coprod-teacher"]):
        solara.Text(t("classroom.teacher", lang, url=url), classes=["coprod-teacher-url"])
        solara.Text(t("classroom.count", lang, n=max(n - 1, 0), cap=LIMITS.max_sessions - 1),
                    classes=["coprod-teacher-count"])
        solara.Button("QR", on_click=lambda: set_show_qr(not show_qr), outlined=True, dense=True,
                      classes=["coprod-qr-button"])
    if show_qr:
        with solara.Div(classes=["coprod-info-overlay", "coprod-qr"]):
            solara.Button(t("button.close", lang), on_click=lambda: set_show_qr(False), color="primary")
            solara.HTML(tag="div", unsafe_innerHTML=f"<p style='font-size:28px'>{url}</p>"
                        f"<img src='{qr_data_uri(url)}' style='width:420px;height:420px' alt='QR'>")
