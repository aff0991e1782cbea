"""The exam-rating statement as a printable PDF (J8), in Kazakh or Russian.

The built-in PDF fonts (Helvetica…) have no Cyrillic, let alone ә ғ қ ң ө ұ ү һ і, and
print boxes; so the renderer embeds DejaVu Sans, found in the usual system places
(Debian/Ubuntu ``fonts-dejavu-core``, Fedora, Arch, macOS) unless a path is given.
Without it rendering stops with :class:`FontMissing` naming where it looked — a
statement with boxes instead of names is worse than none.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from exam_engine.export_cells import pdf_text
from journal_bridge.errors import FontMissing
from journal_bridge.statement import Statement, Translate, Value, format_value, label, statement_table

FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
)
_REGULAR, _BOLD = "DejaVuSans", "DejaVuSans-Bold"


def find_font(name: str = "DejaVuSans.ttf", directories: Sequence[str] = FONT_DIRS) -> Path:
    for directory in directories:
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    raise FontMissing("font_missing", font=name, places=", ".join(directories))


def _register_fonts(font_path: Path | None) -> tuple[str, str]:
    regular = font_path or find_font()
    if _REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_REGULAR, str(regular)))
    bold_path = regular.with_name("DejaVuSans-Bold.ttf")
    if _BOLD not in pdfmetrics.getRegisteredFontNames() and bold_path.is_file():
        pdfmetrics.registerFont(TTFont(_BOLD, str(bold_path)))
    return _REGULAR, _BOLD if _BOLD in pdfmetrics.getRegisteredFontNames() else _REGULAR


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    """A paragraph of literal text: names may hold ``&`` or ``<``, which Paragraph reads as markup,
    and control characters pasted from Word, which a PDF cannot show."""
    return Paragraph(escape(pdf_text(text)), style)


class _Styles:
    def __init__(self, regular: str, bold: str) -> None:
        self.text = ParagraphStyle("text", fontName=regular, fontSize=9, leading=11)
        self.title = ParagraphStyle("title", parent=self.text, fontName=bold, fontSize=13, leading=16, alignment=1)
        self.cell = ParagraphStyle("cell", parent=self.text, fontSize=8, leading=9.5)
        self.head = ParagraphStyle("head", parent=self.cell, fontName=bold)


def _header(statement: Statement, t: Callable[[str], str], s: _Styles) -> list[Flowable]:
    h = statement.header
    fields = [
        ("header_institution", h.institution),
        ("header_faculty", h.faculty),
        ("header_group", h.group),
        ("header_discipline", f"{h.discipline} ({h.discipline_code})"),
        ("header_credits", h.credits),
        ("header_date", h.exam_date.strftime("%d.%m.%Y")),
        ("header_examiner", h.examiner),
    ]
    table = Table(
        [[_p(t(code), s.head), _p(value, s.text)] for code, value in fields],
        colWidths=[45 * mm, 200 * mm],
        hAlign="LEFT",
        style=[("BOTTOMPADDING", (0, 0), (-1, -1), 1), ("TOPPADDING", (0, 0), (-1, -1), 1)],
    )
    return [_p(t("statement_title"), s.title), Spacer(1, 3 * mm), table, Spacer(1, 4 * mm)]


def _students(titles: list[str], body: list[list[Value]], s: _Styles) -> Table:
    data = [[_p(c, s.head) for c in titles]] + [[_p(format_value(v), s.cell) for v in row] for row in body]
    widths = [9, 54, 20, 18, 26, 24, 26, 42, 46]
    return Table(
        data,
        colWidths=[w * mm for w in widths],
        repeatRows=1,
        hAlign="LEFT",
        style=TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        ),
    )


def _summary(statement: Statement, t: Callable[[str], str], s: _Styles) -> KeepTogether:
    """Counts, the letter distribution and the signature lines, kept on one page."""
    stats = statement.statistics
    counts: list[tuple[str, object]] = [(t("stats_students"), stats.students)]
    counts += [(t(f"status_{status}"), n) for status, n in stats.status_counts]
    counts += [
        (t("stats_pass_rate"), f"{format_value(stats.pass_rate)} %"),
        (t("stats_average_total"), format_value(stats.average_total)),
    ]
    letters = [letter for letter, _ in stats.distribution]
    distribution = [
        [_p(t("stats_distribution"), s.head)] + [_p(x, s.head) for x in letters],
        [""] + [_p(n, s.cell) for _, n in stats.distribution],
    ]
    grid = [("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    block: list[Flowable] = [
        Spacer(1, 4 * mm),
        Table(
            [[_p(k, s.head) for k, _ in counts], [_p(v, s.cell) for _, v in counts]],
            colWidths=[29 * mm] * len(counts),
            hAlign="LEFT",
            style=grid,
        ),
        Spacer(1, 3 * mm),
        Table(distribution, colWidths=[45 * mm] + [14 * mm] * len(letters), hAlign="LEFT", style=grid),
        Spacer(1, 10 * mm),
    ]
    for code, name in (("sign_examiner", statement.header.examiner), ("sign_faculty_head", "")):
        block += [_p(f"{t(code)}: ____________________  {name}", s.text), Spacer(1, 6 * mm)]
    return KeepTogether(block)


def render_statement_pdf(
    statement: Statement, language: str, translate: Translate, font_path: Path | None = None
) -> bytes:
    """The statement as PDF bytes: header, student table, counts and distribution, signatures."""
    styles = _Styles(*_register_fonts(font_path))

    def t(code: str) -> str:
        return label(translate, language, code)

    titles, body = statement_table(statement, language, translate)
    story = [*_header(statement, t, styles), _students(titles, body, styles), _summary(statement, t, styles)]
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=t("statement_title"),
        author=pdf_text(statement.header.institution),
        invariant=True,
    )
    document.build(story)
    return out.getvalue()
