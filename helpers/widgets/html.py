"""Small HTML pieces the playground views share, coloured with JupyterLab's theme.

Every colour is a JupyterLab theme variable (``--jp-...``), so the views read well in
the light and the dark theme; each has a fallback for pages without JupyterLab's CSS
(a saved notebook on a website). Introduced with the playgrounds (notebook 01).
"""

from __future__ import annotations

import html

# Levels of a message or a cell: what went well, what failed, what is a warning, ...
COLORS = {
    "ok": "var(--jp-success-color1, #2e7d32)",
    "error": "var(--jp-error-color1, #c62828)",
    "warn": "var(--jp-warn-color1, #e65100)",
    "info": "var(--jp-info-color1, #0277bd)",
    "muted": "var(--jp-ui-font-color2, #616161)",
    "text": "var(--jp-ui-font-color1, #212121)",
}
BORDER = "var(--jp-border-color2, #e0e0e0)"
MARKS = {"ok": "✓", "error": "✗", "warn": "!", "info": "…", "muted": "", "text": ""}

__all__ = ["BORDER", "COLORS", "details", "escape", "level_of_status", "muted", "pre",
           "span", "table"]

escape = html.escape


def span(text: str, level: str = "text", bold: bool = False) -> str:
    weight = ";font-weight:bold" if bold else ""
    return f"<span style='color:{COLORS[level]}{weight}'>{escape(str(text))}</span>"


def muted(text: str) -> str:
    return f"<p style='color:{COLORS['muted']};margin:4px 0'>{escape(text)}</p>"


def pre(text: str, max_height: int = 320) -> str:
    return (f"<pre style='white-space:pre-wrap;max-height:{max_height}px;overflow:auto;"
            f"margin:2px 0;color:{COLORS['text']}'>{escape(text)}</pre>")


def details(summary: str, body: str, open_: bool = False) -> str:
    return (f"<details{' open' if open_ else ''}><summary>{summary}</summary>"
            f"{body}</details>")


def level_of_status(status: int | None, function_error: str | None = None) -> str:
    """2xx is ok (a function error in a 200 is a warning); 4xx and 5xx are errors."""
    if status is None or status >= 400:
        return "error"
    return "warn" if function_error else "ok"


def table(rows: list[dict], columns: list[tuple[str, str]], empty: str,
          levels: dict[str, str] | None = None, max_height: int = 360) -> str:
    """An HTML table of ``rows`` (``columns``: key, title). ``levels`` names, per column,
    the row key holding that cell's level (a colour). Lists show as comma lists."""
    if not rows:
        return muted(empty)
    levels = levels or {}
    cell = f"padding:2px 8px;border-bottom:1px solid {BORDER};text-align:left"
    head = "".join(f"<th style='{cell}'>{escape(title)}</th>" for _, title in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key, "")
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value) if value else "-"
            level = row.get(levels[key]) if key in levels else None
            text = span(value, level) if level else escape(str("" if value is None
                                                              else value))
            cells.append(f"<td style='{cell}'>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div style='max-height:{max_height}px;overflow:auto'>"
            f"<table style='border-collapse:collapse;color:{COLORS['text']}'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")
