"""The page's style sheet: one screen, no page scroll, large type.

The grid fills the window: a bar of buttons and the status lines on top, then the town (left)
and the four plots two by two (right); images are scaled to their cells, drawn at about the
size a 1366x768 screen shows them so text stays at 14-15 px. The levers' panel takes a column
on screens 1600 px wide and more; below, it opens over the left of the page from "Levers".
"""

from __future__ import annotations

import solara

CSS = """
html, body { overflow: hidden !important; }
.coprod-page { position: fixed; inset: 0; z-index: 5; background: white; display: grid;
  grid-template-columns: 0 minmax(0, 1fr); grid-template-rows: auto auto minmax(0, 1fr);
  font-size: 16px; color: #222; }
.coprod-page.levers-open { grid-template-columns: 340px minmax(0, 1fr); }
@media (min-width: 1600px) {
  .coprod-page, .coprod-page.levers-open { grid-template-columns: 340px minmax(0, 1fr); }
  .coprod-levers-button { display: none !important; }
}
.coprod-live { display: contents; }
.coprod-bar { grid-column: 1 / 3; grid-row: 1; display: flex; flex-wrap: wrap; gap: 6px; align-items: center;
  padding: 4px 10px; border-bottom: 1px solid #ddd; }
.coprod-bar .v-btn { font-size: 16px !important; text-transform: none !important; }
.coprod-title { font-weight: 700; font-size: 17px; margin-right: 10px; }
@media (max-width: 1599px) { .coprod-title { display: none; } }
.coprod-speed { max-width: 130px; }
.coprod-status-row { grid-column: 1 / 3; grid-row: 2; padding: 2px 10px; font-size: 16px; line-height: 1.3; }
.coprod-status { font-weight: 600; display: block; }
.coprod-lesson, .coprod-notice { display: block; font-size: 15px; color: #333; }
.coprod-notice { color: #8a4b00; }
.coprod-levers { grid-column: 1; grid-row: 3; overflow-y: auto; overflow-x: hidden; padding: 6px 14px;
  border-right: 1px solid #ddd; background: #fafafa; min-width: 0; }
.coprod-page:not(.levers-open) .coprod-levers { visibility: hidden; }
@media (min-width: 1600px) { .coprod-page:not(.levers-open) .coprod-levers { visibility: visible; } }
.coprod-lever { margin-top: 10px; }
.coprod-lever-name { font-size: 15px; }
.coprod-lever-help { font-size: 13px; color: #555; line-height: 1.25; }
.coprod-levers .v-input__slot { margin-bottom: 0 !important; }
.coprod-levers .v-slider__thumb-label { font-size: 13px; }
.coprod-main { grid-column: 2; grid-row: 3; display: grid; min-height: 0; min-width: 0;
  grid-template-columns: 41fr 59fr; grid-template-rows: minmax(0, 1fr); gap: 4px; padding: 2px 4px; }
.coprod-town, .coprod-plots { min-height: 0; min-width: 0; }
.coprod-plots { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr);
  grid-template-rows: minmax(0, 1fr) minmax(0, 1fr); gap: 2px; }
.coprod-town { display: grid; grid-template-rows: minmax(0, 1fr); }
.coprod-plots > *, .coprod-town > * { min-height: 0; min-width: 0; overflow: hidden; }
.coprod-town-map, .coprod-chart { width: 100% !important; height: 100% !important; min-height: 0;
  object-fit: contain; display: block; }
.coprod-info-overlay { position: fixed; top: 60px; right: 16px; bottom: 16px; width: min(720px, 90vw);
  z-index: 20; background: white; box-shadow: 0 4px 24px rgba(0,0,0,.35); padding: 10px 20px;
  overflow-y: auto; border-radius: 6px; }
.coprod-info { font-size: 16px; }
.coprod-info h3 { margin: 12px 0 4px 0; }
.coprod-info-close { float: right; }
.coprod-teacher { display: flex; gap: 12px; align-items: center; font-size: 16px; }
.coprod-teacher img { width: 120px; height: 120px; }
.coprod-full { padding: 40px; font-size: 20px; }
"""


@solara.component
def Style():
    solara.Style(CSS)
