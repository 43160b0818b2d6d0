"""report.html: report.md as one self-contained page (figures embedded, no network) that prints.

Figures are embedded as SVG data (sharp on paper and screen); tables and figures are kept
whole across printed pages.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 62rem;
       margin: 2rem auto; padding: 0 1rem; line-height: 1.45; color: #1a1a1a; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; }
blockquote { color: #444; border-left: 3px solid #bbb; margin-left: 0; padding-left: 1rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0 1.2rem; }
code { font-size: 0.85em; background: #f5f5f5; padding: 0 0.2em; overflow-wrap: anywhere; }
table { max-width: 100%; } th, td { overflow-wrap: break-word; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  h2 { break-after: avoid; } table, img, li { break-inside: avoid; }
  @page { margin: 1.5cm; }
}
"""


def _embed(match: re.Match[str], figures: Path) -> str:
    alt, src = match.group(1), match.group(2)
    svg = figures / (Path(src).stem + ".svg")
    png = figures / Path(src).name
    path, mime = (svg, "image/svg+xml") if svg.exists() else (png, "image/png")
    if not path.exists():
        return f"<p><em>(figure {html.escape(src)} missing)</em></p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{alt}" src="data:{mime};base64,{data}">'


def to_html(text: str, figures: Path, title: str) -> str:
    """The page for ``text`` (report.md), with the figures of folder ``figures`` embedded."""
    import markdown

    # names from files are text, never markup: only the report's own line breaks stay HTML
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace("&lt;br>", "<br>")
    body = markdown.markdown(text, extensions=["tables"], output_format="html")
    body = re.sub(r'<img alt="([^"]*)" src="([^"]+)"\s*/?>', lambda m: _embed(m, figures), body)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
            "</body>\n</html>\n")
