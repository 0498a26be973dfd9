"""A report run as Markdown, and that Markdown as a PDF (fpdf2, as certificates are made).

Pure and synchronous: the PDF is CPU work, run off the event loop by the caller. The Markdown is
the report's source of truth; the PDF is rendered from it (markdown-it-py to HTML, then fpdf2's
HTML writer), so both say the same thing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fpdf import FPDF
from markdown_it import MarkdownIt

from newspeech.analysis.reports.chains import clock, speaker_label
from newspeech.kit.pdf import PdfFonts

_HEADING = re.compile(r"^(#{1,5})(\s)", re.MULTILINE)


@dataclass(frozen=True)
class ReportPart:
    run_part: int
    title: str
    version: int
    markdown: str | None = None
    data: Any = None


@dataclass(frozen=True)
class ReportDocument:
    title: str
    facts: Sequence[tuple[str, str]]
    """label and value lines under the title (scenario, place, date, model ...)"""
    parts: Sequence[ReportPart] = ()
    segments: Sequence[Mapping[str, Any]] | None = None
    """the timed transcript, for a transcript report"""


def report_markdown(doc: ReportDocument) -> str:
    lines = [f"# {doc.title}", "", "| | |", "| --- | --- |"]
    lines += [f"| {_cell(label)} | {_cell(value)} |" for label, value in doc.facts]
    for part in doc.parts:
        lines += ["", f"## {part.run_part}. {part.title}", ""]
        if part.markdown is not None:
            lines.append(_demote(part.markdown.strip()))
        else:
            lines.append(json_markdown(part.data))
    if doc.segments is not None:
        lines += ["", "## Transcript", ""]
        for segment in doc.segments:
            if str(segment.get("text") or "").strip():
                when = clock(float(segment["start"]))
                who = speaker_label(segment.get("speaker"))
                lines += [f"**[{when}] {who}:** {segment['text']}", ""]
        if not doc.segments:
            lines.append("(the recording has no speech)")
    return "\n".join(lines).rstrip() + "\n"


def json_markdown(value: Any) -> str:
    """A JSON answer as readable Markdown: a table per list of objects, bullets per list of
    values, a line per plain field."""
    if not isinstance(value, Mapping):
        return _block(value)
    out: list[str] = []
    for key, item in value.items():
        name = str(key).replace("_", " ").capitalize()
        if isinstance(item, list) and item and all(isinstance(i, Mapping) for i in item):
            columns = list(dict.fromkeys(k for row in item for k in row))
            out += [f"**{name}**", ""]
            out.append("| " + " | ".join(_cell(c.replace("_", " ")) for c in columns) + " |")
            out.append("| " + " | ".join("---" for _ in columns) + " |")
            out += [
                "| " + " | ".join(_cell(_plain(r.get(c))) for c in columns) + " |" for r in item
            ]
            out.append("")
        elif isinstance(item, list):
            out += [f"**{name}**", ""]
            out += [f"- {_plain(i)}" for i in item] or ["- (none)"]
            out.append("")
        else:
            out += [f"**{name}:** {_plain(item)}", ""]
    return "\n".join(out).rstrip()


def report_pdf(markdown: str, fonts: PdfFonts, *, title: str) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.set_creator("NewSpeech")
    pdf.set_auto_page_break(auto=True, margin=15)
    unicode = fonts.regular is not None and fonts.bold is not None
    family = "Helvetica"
    if fonts.regular is not None and fonts.bold is not None:
        family = "DejaVu"
        for style, path in (("", fonts.regular), ("B", fonts.bold)):
            pdf.add_font(family, style, str(path))
            pdf.add_font(family, style + "I", str(path))  # no italic face: upright
    pdf.add_page()
    pdf.set_font(family, size=10)
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    if not unicode:
        html = html.encode("latin-1", "replace").decode("latin-1")
    pdf.write_html(html, font_family=family)
    return bytes(pdf.output())


def report_html(markdown: str) -> str:
    """The report's Markdown as HTML that is safe to put in a page: the Markdown (written by
    an LLM, so untrusted) cannot bring its own HTML (``html`` off: ``<script>`` comes out as
    text), links to ``javascript:``, ``vbscript:``, ``file:`` and ``data:`` are left as text
    (markdown-it's link check), and images are not rendered (no request to a server the
    report names)."""
    return str(_SAFE.render(markdown))


_SAFE = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def _demote(markdown: str) -> str:
    """A part's own headings one level down, under the part's title."""
    return _HEADING.sub(lambda m: "#" + m.group(1) + m.group(2), markdown)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int | float | bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _block(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```"
