"""The teaching page's layout, from Solara's own components (Mesa's model, our page).

Mesa's SolaraViz page fixes things a classroom needs changed (no end-of-run message, slider
values hidden, development controls, a grid that scrolls), so
the page is laid out here: one screen with no page scroll at 1366x768 and above (town on the
left, four plots two by two), a bar of buttons, the levers in a panel, Info in an overlay.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import markdown
import solara
import solara.lab

from coprod_sim.params import Parameters, spec
from coprod_sim.viz import page_style
from coprod_sim.viz.charts import WHO, shown_charts
from coprod_sim.viz.classroom import TeacherPanel, is_teacher
from coprod_sim.viz.controls import FEEDBACK_KEY, FEEDBACK_OFF, control, lever_keys
from coprod_sim.viz.i18n import LANGUAGES, count, number, pick_language, t
from coprod_sim.viz.info import info_markdown, lever_value_text, status
from coprod_sim.viz.pictures import Pictures
from coprod_sim.viz.session import LIMITS, Town, open_town
from coprod_sim.viz.town import COLOUR_BY

SPEEDS = {"slow": 1.0, "normal": 0.4, "fast": 0.1}
"""Seconds between months while playing."""
SHOWN_TIMEOUT = 2.0
"""While playing, a month is sent to the browser once it has shown the previous one (or after
this many seconds): on a busy server or a slow device the months run on and the next picture
shows the latest, rather than queueing pictures no one will see."""


def lesson(town: Town, lang: str) -> str:
    """The selection lesson in one sentence, once the event study has a year of data."""
    effect = town.cycle.effect() if town.cycle is not None else None
    row = town.model.latest
    if effect is None or effect[0] < 6 or town.month < 12:
        return t("lesson.wait", lang)
    gap = row["efficacy_participants"] - row["efficacy_non_participants"]
    return t("lesson.gap", lang, gap=number(gap, lang), effect=number(effect[1], lang, sign=True),
             months=effect[0])


@solara.component
def Lever(key: str, value: Any, on_value, lang: str, disabled: bool = False, shown: Any = None):
    entry = control(key, value)
    name = t(f"lever.{key}", lang)
    shown = value if shown is None else shown
    with solara.Div(classes=["coprod-lever"]):
        solara.HTML(tag="div", classes=["coprod-lever-name"],
                    unsafe_innerHTML=f"<b>{name}</b>: <span class='coprod-lever-value'>"
                                     f"{lever_value_text(key, shown, lang)}</span>")
        if entry["type"] == "Select":
            solara.v.Select(v_model=value, items=[{"text": t(f"choice.{c}", lang), "value": c}
                                                   for c in entry["values"]],
                            on_v_model=on_value, dense=True, hide_details=True, disabled=disabled)
        elif entry["type"] in ("SliderFloat", "SliderInt"):
            slider = solara.SliderFloat if entry["type"] == "SliderFloat" else solara.SliderInt
            slider("", value=shown, min=entry["min"], max=entry["max"], step=entry["step"],
                   on_value=on_value, thumb_label=True, disabled=disabled)
        p = spec(key)
        solara.HTML(tag="div", classes=["coprod-lever-help"],
                    unsafe_innerHTML=t(f"lever.{key}.help", lang) + ". "
                    + t("lever.allowed", lang, allowed=f"{p.low:g}-{p.high:g}" if p.low is not None
                        else ", ".join(t(f"choice.{c}", lang) for c in (p.choices or ()))))


@solara.component
def LeverPanel(levers: dict, set_levers, applied: dict, lang: str):
    # One setter per lever, made once: a lever whose value did not change is not drawn again.
    setters = solara.use_memo(lambda: {key: lambda v, key=key: set_levers(lambda now: {**now, key: v})
                                       for key in lever_keys()}, [])
    with solara.Div(classes=["coprod-levers"]):
        solara.HTML(tag="p", unsafe_innerHTML=t("levers.intro", lang), classes=["coprod-levers-intro"])
        if levers != applied:
            solara.Warning(t("levers.changed", lang), dense=True, classes=["coprod-levers-changed"])
        off = bool(levers[FEEDBACK_OFF])
        solara.Switch(label=t("lever.cycle", lang), value=not off,
                      on_value=lambda on: set_levers(lambda now: {**now, FEEDBACK_OFF: not on}),
                      classes=["coprod-cycle-switch"])
        solara.HTML(tag="div", classes=["coprod-lever-help"], unsafe_innerHTML=t("lever.cycle.help", lang))
        for key in lever_keys():
            # One control per lever: with the cycle off, its strength shows 0 and cannot move.
            is_feedback = key == FEEDBACK_KEY
            Lever(key, levers[key], setters[key], lang, disabled=is_feedback and off,
                  shown=0.0 if is_feedback and off else None)


@solara.component
def Page(base: Parameters, notices: list[tuple[str, dict]], default_lang: str | None):
    """The page of one browser session (``base``: the scenario; ``notices``: catalogue keys
    and fields to show above the town; ``default_lang``: forced language or None)."""
    headers = solara.lab.headers.value or {}
    first_lang = default_lang or pick_language((headers.get("accept-language") or [""])[0])
    lang, set_lang = solara.use_state(first_lang)
    town = solara.use_memo(lambda: open_town(solara.get_kernel_id(), base, first_lang), [])
    solara.Title(t("tab_title", lang))
    page_style.Style()
    if town is None:
        with solara.Div(classes=["coprod-full"]):
            solara.Error(t("classroom.full", lang, cap=LIMITS.max_sessions))
        return
    TownPage(town, base, notices, lang, set_lang)


@solara.component
def TownPage(town: Town, base: Parameters, notices: list[tuple[str, dict]], lang: str, set_lang):
    """The page of a session that has its town: the levers and the Info overlay here, the
    moving parts in :func:`Live` (so a month re-renders only those)."""
    town.set_language(lang)
    levers, set_levers = solara.use_state(dict(town.applied))
    _resets, set_resets = solara.use_state(0)  # Reset bumps it: the levers' panel compares again
    show_levers, set_show_levers = solara.use_state(False)
    show_info, set_show_info = solara.use_state(False)
    # Live reads the levers only when Reset is pressed: through a ref, so that moving a lever
    # does not redraw the buttons, the status lines and the pictures.
    levers_now = solara.use_ref(levers)
    levers_now.current = levers
    classes = ["coprod-page"] + (["levers-open"] if show_levers else [])
    with solara.Div(classes=classes):
        Live(town, base, notices, lang, set_lang, levers_now, set_resets, set_show_levers, set_show_info)
        # Always rendered; below 1600 px wide the CSS hides it until "Levers" opens it.
        LeverPanel(levers, set_levers, town.applied, lang)
        if show_info:
            with solara.Div(classes=["coprod-info-overlay"]):
                solara.Button(t("button.close", lang), on_click=lambda: set_show_info(False),
                              classes=["coprod-info-close"], color="primary")
                solara.HTML(tag="div", classes=["coprod-info"], unsafe_innerHTML=markdown.markdown(
                    info_markdown(lang, *town.areas(), town.last_month)))


@solara.component
def Live(town: Town, base: Parameters, notices: list[tuple[str, dict]], lang: str, set_lang,
         levers_now, set_resets, set_show_levers, set_show_info):
    """The buttons, the status lines, the town and the plots. A month changes only
    :func:`MonthStatus` and :func:`MonthPictures` (they read ``tick``), not the buttons.
    ``levers_now.current``: the levers as set, which Reset applies."""
    headers = solara.lab.headers.value or {}
    tick = solara.use_memo(lambda: solara.reactive(0), [])  # one more per month sent to the browser
    _ended, set_ended = solara.use_state(False)  # run finished or town put away: redraw the buttons
    playing, set_playing = solara.use_state(False)
    colour_by, set_colour_by = solara.use_state(COLOUR_BY[0])
    who, set_who = solara.use_state(WHO[0])  # income fifths or levels of involvement, third plot
    speed, set_speed = solara.use_state("normal")
    town.playing = playing

    def show_month() -> None:
        tick.value = tick.peek() + 1
        set_ended(town.finished or town.put_away)

    def play(cancel: threading.Event) -> None:
        if not playing:
            return
        sent, sent_at = town.month, 0.0
        while not cancel.is_set():
            started = time.monotonic()
            if not town.step():
                break
            if town.shown_month >= sent or started - sent_at > SHOWN_TIMEOUT:
                sent, sent_at = town.month, started
                show_month()
            cancel.wait(max(0.0, SPEEDS[speed] - (time.monotonic() - started)))
        if sent != town.month and not town.put_away:
            show_month()  # the last month reached, if it was not sent
        if town.finished or town.put_away:
            set_playing(False)

    solara.use_thread(play, dependencies=[playing, speed], intrusive_cancel=False)

    def on_reset() -> None:
        # Building the same town again takes tens of milliseconds: done here, with no busy
        # state to draw and undraw (which cost more than the build).
        set_playing(False)
        town.reset(levers_now.current)
        show_month()
        set_resets(lambda n: n + 1)

    def on_step() -> None:
        town.step()  # at the end of the run (or once put away) this only redraws the message
        show_month()

    finished, away = town.finished, town.put_away
    with solara.Div(classes=["coprod-live"]):
        with solara.Div(classes=["coprod-bar"]):
            solara.HTML(tag="div", unsafe_innerHTML=t("title", lang), classes=["coprod-title"])
            solara.Button(t("button.reset", lang), on_click=on_reset, color="primary",
                          classes=["coprod-reset"])
            solara.Button(t("button.pause", lang) if playing else t("button.play", lang),
                          on_click=lambda: set_playing(not playing), disabled=finished or away,
                          classes=["coprod-play"])
            solara.Button(t("button.step", lang), on_click=on_step, classes=["coprod-step"],
                          disabled=playing or finished or away)
            solara.v.Select(v_model=speed, label=t("speed", lang), dense=True, hide_details=True,
                            items=[{"text": t(f"speed.{s}", lang), "value": s} for s in SPEEDS],
                            on_v_model=set_speed, class_="coprod-speed")
            solara.ToggleButtonsSingle(value=colour_by, on_value=set_colour_by,
                                       dense=True, classes=["coprod-colour"],
                                       children=[solara.Button(t(f"colour.{c}", lang), value=c)
                                                 for c in COLOUR_BY])
            solara.ToggleButtonsSingle(value=who, on_value=set_who, dense=True, classes=["coprod-who"],
                                       children=[solara.Button(t(f"who.{w}", lang), value=w) for w in WHO])
            solara.Button(t("button.levers", lang), on_click=lambda: set_show_levers(lambda shown: not shown),
                          classes=["coprod-levers-button"], outlined=True)
            solara.Button(t("button.info", lang), on_click=lambda: set_show_info(True),
                          classes=["coprod-info-button"], outlined=True)
            other = LANGUAGES[(LANGUAGES.index(lang) + 1) % len(LANGUAGES)]
            solara.Button(t("button.language", lang), on_click=lambda: set_lang(other),
                          classes=["coprod-language"], text=True)
        with solara.Div(classes=["coprod-status-row"]):
            MonthStatus(town, base, lang, tick)
            for key, fields in notices:
                fields = {k: count(v, lang) if isinstance(v, int) else v for k, v in fields.items()}
                solara.Text(t(key, lang, **fields), classes=["coprod-notice"])
            if is_teacher(headers):
                TeacherPanel(lang)
        MonthPictures(town, tick, colour_by, who, lang)


@solara.component
def MonthStatus(town: Town, base: Parameters, lang: str, tick: solara.Reactive[int]):
    """The end-of-run notice, the status line and the lesson, for the month shown."""
    tick.value  # noqa: B018 (reading it makes a new month re-render this component)
    finished, away = town.finished, town.put_away
    with solara.Div(classes=["coprod-month-status"]):
        if away:
            solara.Warning(t("classroom.idle", lang, minutes=f"{LIMITS.idle_minutes:g}"), dense=True)
        else:
            if finished:
                solara.Success(t("finished", lang, month=town.month), dense=True, classes=["coprod-finished"])
            # Both lines in one widget: one message a month.
            line = html.escape(status(town.model, town.applied, base, lang))
            solara.HTML(tag="div", unsafe_innerHTML=f"<span class='coprod-status'>{line}</span>"
                        f"<span class='coprod-lesson'>{html.escape(lesson(town, lang))}</span>")


@solara.component
def MonthPictures(town: Town, tick: solara.Reactive[int], colour_by: str, who: str, lang: str):
    """The town and the four plots (``who``: by income or by level in the third place), for
    the month shown, in one widget (:func:`~coprod_sim.viz.pictures.Pictures`)."""
    month_no = tick.value

    def frames() -> tuple[list[str], list[dict]]:
        if town.put_away:
            return [], None, []
        made = [town.town_frame(colour_by) | {"css_class": "coprod-town-map"}]
        made += [town.chart_frame(name) | {"css_class": f"coprod-chart coprod-chart-{name}"}
                 for name in shown_charts(who)]
        # The stills and the citizens' places go apart: sent again only when they change.
        return [f.pop("still") for f in made], made[0].pop("dots"), made

    stills, dots, made = solara.use_memo(frames, [town.generation, month_no, colour_by, who, lang,
                                                  town.put_away])
    if not made:
        solara.Div(classes=["coprod-main"])
        return
    Pictures(stills=stills, dots=dots, frames=made, month=town.month, event_drawn=town.drawn)
