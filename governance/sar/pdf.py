"""The bundle as a PDF for people: a cover letter with the Article 15 information, then the records.

Drawn with reportlab's canvas so each redaction can be a black box labelled
with its exemption code, in the flow of the text. A box is as wide as its
label, whatever it hides. Output is invariant (no creation time or random id),
so the same bundle document gives the same bytes.

Fonts: DejaVu Sans when the system has it (wide Unicode coverage, for names
beyond Latin-1), else Bitstream Vera, which ships with reportlab.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Iterable

from reportlab.lib.colors import black, white, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

__all__ = ["render_pdf"]

_MARGIN = 50
_LINE = 13.0
_SIZE = 9.5
_BOX_SIZE = 7.0
_GREY = HexColor("#555555")
_UNLABELLED = ("title", "body", "text")  # a record's own text; other fields (purpose, reason...) are named


def _fonts() -> tuple[str, str]:
    if "SarSans" in pdfmetrics.getRegisteredFontNames():
        return "SarSans", "SarSans-Bold"
    candidates = [(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"))]
    import reportlab

    vera = Path(reportlab.__file__).parent / "fonts"
    candidates.append((vera / "Vera.ttf", vera / "VeraBd.ttf"))
    for regular, bold in candidates:
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont("SarSans", str(regular)))
            pdfmetrics.registerFont(TTFont("SarSans-Bold", str(bold)))
            return "SarSans", "SarSans-Bold"
    return "Helvetica", "Helvetica-Bold"  # pragma: no cover - reportlab always ships Vera


class _Writer:
    def __init__(self, title: str) -> None:
        self.buffer = io.BytesIO()
        self.canvas = Canvas(self.buffer, pagesize=A4, invariant=1, pageCompression=1)
        self.canvas.setTitle(title)
        self.canvas.setAuthor("Records management")
        self.width, self.height = A4
        self.regular, self.bold = _fonts()
        self.title = title
        self.page = 0
        self.y = 0.0
        self._new_page()

    def _new_page(self) -> None:
        if self.page:
            self.canvas.showPage()
        self.page += 1
        c = self.canvas
        c.setFont(self.regular, 7.5)
        c.setFillColor(_GREY)
        c.drawString(_MARGIN, self.height - 30, self.title)
        c.drawRightString(self.width - _MARGIN, self.height - 30, f"page {self.page}")
        c.drawString(_MARGIN, 25, "Confidential: personal data. Redacted passages are shown as black boxes labelled "
                                  "with the exemption that applies.")
        c.setFillColor(black)
        self.y = self.height - 55

    def space(self, lines: float = 1.0) -> None:
        self.y -= _LINE * lines
        if self.y < 45:
            self._new_page()

    def _need(self, height: float) -> None:
        if self.y - height < 45:
            self._new_page()

    def heading(self, text: str, size: float = 13) -> None:
        self._need(size * 2.5)
        self.y -= size * 0.6
        self.canvas.setFont(self.bold, size)
        self.canvas.drawString(_MARGIN, self.y, text)
        self.y -= size * 1.1

    def text(self, parts: Iterable[dict[str, str]] | str, *, bold: bool = False, indent: float = 0.0,
             size: float = _SIZE) -> None:
        """Flow text and redaction boxes into lines; ``\\n`` starts a new line."""
        if isinstance(parts, str):
            parts = [{"t": parts}]
        font = self.bold if bold else self.regular
        left = _MARGIN + indent
        right = self.width - _MARGIN
        x = left
        self._need(_LINE)
        space = pdfmetrics.stringWidth(" ", font, size)
        for kind, token, spaced in _tokens(parts):
            if kind == "newline":
                x = left
                self.space()
                continue
            if kind == "box":
                w = pdfmetrics.stringWidth(token, self.bold, _BOX_SIZE) + 6
            else:
                w = pdfmetrics.stringWidth(token, font, size)
            gap = space if spaced and x > left else 0.0
            if x + gap + w > right and x > left:
                x, gap = left, 0.0
                self.space()
            x += gap
            if kind == "box":
                self._box(x, token, w)
                x += w
                continue
            while w > right - left:  # one very long token: cut it
                cut = max(1, int(len(token) * (right - left) / w) - 1)
                self.canvas.setFont(font, size)
                self.canvas.drawString(x, self.y, token[:cut])
                self.space()
                token = token[cut:]
                w = pdfmetrics.stringWidth(token, font, size)
            self.canvas.setFont(font, size)
            self.canvas.drawString(x, self.y, token)
            x += w
        self.space()

    def _box(self, x: float, label: str, w: float) -> None:
        c = self.canvas
        c.setFillColor(black)
        c.rect(x, self.y - 2.5, w, 11, fill=1, stroke=0)
        c.setFillColor(white)
        c.setFont(self.bold, _BOX_SIZE)
        c.drawString(x + 3, self.y, label)
        c.setFillColor(black)

    def finish(self) -> bytes:
        self.canvas.showPage()
        self.canvas.save()
        return self.buffer.getvalue()


def _tokens(parts: Iterable[dict[str, str]]) -> Iterable[tuple[str, str, bool]]:
    """(kind, text, preceded by a space): words, redaction boxes and line breaks, in order.

    Line breaks are only emitted before something that follows them, so trailing
    newlines leave no blank lines.
    """
    spaced, breaks = False, 0
    for part in parts:
        pieces = [("box", part["code"])] if "code" in part else [
            ("word", p) for p in re.split(r"(\s+)", part["t"]) if p]
        for kind, piece in pieces:
            if kind == "word" and piece.isspace():
                breaks += piece.count("\n")
                spaced = True
                continue
            for _ in range(breaks):
                yield "newline", "", False
            if breaks:
                spaced = False
            breaks = 0
            yield kind, piece, spaced
            spaced = False


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v).replace("_", " ") for v in value)
    return str(value).replace("_", " ") if isinstance(value, str) and "_" in value and " " not in value else str(value)


def _cover(w: _Writer, doc: dict[str, Any]) -> None:
    request, a15 = doc["request"], doc["article15"]
    w.heading("Your subject access request", 16)
    w.text(f"Reference {request['request_id']}. Received {request['received_on']}; prepared {request['prepared_on']}"
           + (f"; due by {request['deadline']}." if request["deadline"] else "."))
    w.text(f"{a15['controller']} holds the records enclosed about you. This letter gives the information the law "
           "(UK GDPR Article 15) says must come with them. The records follow, in date order within each case.")
    w.heading("Why we hold your information", 11)
    for p in a15["purposes"]:
        w.text(f"- {p['purpose']} ({p['lawful_basis']})", indent=8)
    w.heading("What we hold", 11)
    w.text("; ".join(a15["categories"]) + ".")
    w.heading("Who it has been shared with", 11)
    if a15["recipients"]:
        for r in a15["recipients"]:
            w.text(f"- {r['agency']}: {r['times_shared']} time(s)", indent=8)
    else:
        w.text("Our sharing log records no sharing of your information with other agencies.")
    w.heading("How long we keep it", 11)
    for r in a15["retention"]:
        w.text(f"- {r['case_type'].replace('_', ' ')}: {r['period']}", indent=8)
    w.text(f"Source: {a15['retention_source']}.", size=8)
    w.heading("Your rights", 11)
    w.text("You have the right " + "; ".join(a15["rights"]) + ".")
    w.text(a15["complaint"])
    w.heading("Where the information came from", 11)
    w.text("; ".join(a15["sources"]) + ".")
    w.text(a15["automated_decision_making"])
    w.text(a15["format_note"])
    if doc["exemptions"]:
        w.heading("Why some parts are not shown", 11)
        w.text("Some information has been removed because an exemption in the law applies. Each black box shows "
               "the exemption:")
        for code, info in doc["exemptions"].items():
            w.text([{"code": code}, {"t": f" {info['reference']}: {info['meaning']}."}], indent=8)


def render_pdf(doc: dict[str, Any]) -> bytes:
    """The bundle document (see :mod:`governance.sar.export`) as PDF bytes."""
    w = _Writer(f"Subject access request {doc['request']['request_id']}")
    _cover(w, doc)
    for section in doc["sections"]:
        if not section["records"]:
            continue
        w._new_page() if section["entities"] == ["casenote", "document"] else w.space(0.5)
        w.heading(section["title"], 13)
        for record in section["records"]:
            label = record["entity"].replace("_", " ")
            w.text(f"{record['date'] or ''}  {label} {record['id']}".strip(), bold=True)
            details = "; ".join(f"{k.replace('_', ' ')}: {_value(v)}" for k, v in record["details"].items())
            if details:
                w.text(details, indent=8, size=8.5)
            if record["withheld"]:
                w.text([{"t": "Withheld in full: "}] + [{"code": c} for c in record["withheld"]], indent=8)
            for name, field in record["fields"].items():
                if field["segments"]:
                    label = [] if name in _UNLABELLED else [{"t": f"{name.replace('_', ' ')}: "}]
                    w.text(label + field["segments"], indent=8, bold=(name == "title"))
            w.space(0.4)
    w.heading("Where we searched", 11)
    for entry in doc["search"]:
        note = f" ({entry['note']})" if entry["note"] else ""
        w.text(f"- {entry['source']}: {entry['target']}: {entry['criterion']}{note}", indent=8,
               size=8)
    return w.finish()
