"""Fonts for PDFs made with fpdf2 (certificates, session reports, analysis reports).

Text is set in DejaVu Sans when the font is installed (Debian/Ubuntu ``fonts-dejavu-core``) so
any script prints; without it the PDF core font Helvetica is used and characters outside
Latin-1 print as ``?``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)


@dataclass(frozen=True)
class PdfFonts:
    """A regular and a bold TrueType file; ``None`` means the PDF core font (Latin-1 only)."""

    regular: Path | None = None
    bold: Path | None = None

    @classmethod
    def discover(cls) -> PdfFonts:
        for folder in FONT_DIRS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.is_file() and bold.is_file():
                return cls(regular, bold)
        return cls()
