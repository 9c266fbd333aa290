"""Rendering: Jinja2 templates (autoescaped), the page frame, messages after a change, the SVG chart.

Server-rendered HTML with no script: nothing to build, nothing fetched from a
CDN, and every value reaches the page through Jinja2's autoescaping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from governance_airflow.console.access import ConsoleUser

__all__ = ["templates", "render", "done", "stacked_bars", "SECURITY_HEADERS"]

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
SECURITY_HEADERS = {
    # Shown inside Airflow's own frame (external_views), nowhere else; nothing loads from outside.
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'self'; form-action 'self'",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(request: Request, name: str, user: ConsoleUser | None, *, page: str | None = None, status_code: int = 200,
           **values: Any) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return templates.TemplateResponse(request, name, {
        "user": user, "page": page, "root": root, "message": request.query_params.get("done"), **values},
        status_code=status_code)


def done(request: Request, path: str, message: str) -> RedirectResponse:
    """Post/redirect/get: back to ``path`` with a one-line message (identifiers and counts only)."""
    root = request.scope.get("root_path", "")
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{root}{path}{sep}done={quote(message[:200])}", status_code=303)


_PALETTE = ("#1d4e89", "#f28f3b", "#2a9d8f", "#c8553d", "#6d597a", "#588b8b", "#e9c46a", "#8d99ae", "#264653")


def stacked_bars(months: list[str], classes: list[str], counts: dict[str, list[int]], *, height: int = 220,
                 bar: int = 22, gap: int = 8) -> Markup:
    """Inline SVG: one stacked bar per month, one colour per record class, with a legend and titles."""
    totals = [sum(counts[c][i] for c in classes) for i in range(len(months))]
    top = max(totals + [1])
    left, bottom = 40, 40
    width = left + len(months) * (bar + gap) + 10
    legend_h = 18 * ((len(classes) + 3) // 4)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height + bottom + legend_h}" '
             f'aria-label="cases falling due per month and record class">']
    parts.append(f'<line x1="{left}" y1="{height}" x2="{width}" y2="{height}" stroke="#555"/>')
    parts.append(f'<text x="{left - 6}" y="12" text-anchor="end" font-size="10">{top}</text>')
    parts.append(f'<text x="{left - 6}" y="{height}" text-anchor="end" font-size="10">0</text>')
    for i, month in enumerate(months):
        x = left + i * (bar + gap)
        y = float(height)
        for k, cls in enumerate(classes):
            n = counts[cls][i]
            if not n:
                continue
            h = (height - 16) * n / top
            y -= h
            parts.append(f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{_PALETTE[k % len(_PALETTE)]}">'
                         f'<title>{escape(month)} {escape(cls)}: {n}</title></rect>')
        if totals[i]:
            parts.append(f'<text x="{x + bar / 2}" y="{y - 3:.1f}" text-anchor="middle" font-size="9">{totals[i]}</text>')
        if i % 3 == 0:
            parts.append(f'<text x="{x}" y="{height + 14}" font-size="9">{escape(month)}</text>')
    for k, cls in enumerate(classes):
        lx, ly = left + (k % 4) * 190, height + 30 + 18 * (k // 4)
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{_PALETTE[k % len(_PALETTE)]}"/>'
                     f'<text x="{lx + 14}" y="{ly}" font-size="11">{escape(cls)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
