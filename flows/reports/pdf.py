"""The bulletin as an A4 PDF (reportlab platypus), with the CJK font embedded so it prints anywhere."""

from __future__ import annotations

import bisect
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import textsplit
from reportlab.lib.colors import HexColor
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, HRFlowable, Image, Paragraph, SimpleDocTemplate, Spacer, paragraph
from reportlab.platypus import Table as RLTable

from chuishao.flows.reports import common
from chuishao.flows.reports.fonts import pdf_font_name
from chuishao.flows.reports.layout import Block, Cell, Table, build

MM = 72 / 25.4
PAGE_W, PAGE_H = 210 * MM, 297 * MM
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 15 * MM, 18 * MM, 17 * MM
FRAME_W = PAGE_W - 2 * MARGIN_X
FRAME_H = PAGE_H - MARGIN_TOP - MARGIN_BOTTOM

CELL_SIZE = 8.5
SUB_SIZE = 7
SMALL_SIZE = 7.5
PAGED_ROWS = 40  # longer tables are laid out page by page (see _PagedTable)
PAD = 3
RED = "#c00000"
TONES = {"red": RED, "amber": "#b35f00", "green": "#2e7d32"}
ROW_BACKGROUNDS = {"red": "#fdeceb", "black": "#e4e4e4"}
GRID = "#8c8c8c"
CHART_WIDTHS = {"sources": 0.8}  # share of the text width; the rest 0.92

# Chinese line breaking: reportlab keeps ASCII and some CJK closing marks off the start of a line, but not the
# full-width comma, semicolon, colon, ! and ?, nor closing quotes. Add them (once, for every Paragraph).
_NO_LINE_START = "，；：！？”’》」』】〕…"
HEAD_BG = "#eef1f6"


def _styles(font: str) -> dict[str, Any]:
    base = ParagraphStyle("base", fontName=font, fontSize=10.5, leading=17, wordWrap="CJK")
    grey = HexColor("#444444")
    return {
        "masthead": ParagraphStyle("masthead", base, fontSize=22, leading=30, alignment=TA_CENTER,
                                   textColor=HexColor(RED), spaceAfter=4),
        "title": ParagraphStyle("title", base, fontSize=15, leading=22, alignment=TA_CENTER, spaceAfter=4),
        "meta": ParagraphStyle("meta", base, fontSize=9, leading=13, alignment=TA_CENTER, textColor=grey),
        "h2": ParagraphStyle("h2", base, fontSize=13.5, leading=20, spaceBefore=12, spaceAfter=5, keepWithNext=1),
        "h3": ParagraphStyle("h3", base, fontSize=11, leading=16, spaceBefore=6, spaceAfter=4, keepWithNext=1),
        "p": ParagraphStyle("p", base, firstLineIndent=21, spaceAfter=6),
        "note": ParagraphStyle("note", base, fontSize=8.5, leading=13, textColor=grey, spaceBefore=2, spaceAfter=8),
        "notice": ParagraphStyle("notice", base, fontSize=10, leading=15, textColor=HexColor(RED),
                                 borderColor=HexColor(RED), borderWidth=1, borderPadding=5, spaceBefore=6,
                                 spaceAfter=8),
        "footer": ParagraphStyle("footer", base, fontSize=8.5, leading=13, textColor=grey, alignment=TA_RIGHT,
                                 spaceBefore=14),
        "th": ParagraphStyle("th", base, fontSize=CELL_SIZE, leading=11, alignment=TA_CENTER),
        "th_small": ParagraphStyle("th_small", base, fontSize=SMALL_SIZE, leading=10, alignment=TA_CENTER),
        "left": ParagraphStyle("left", base, fontSize=CELL_SIZE, leading=11, alignment=TA_LEFT),
        "center": ParagraphStyle("center", base, fontSize=CELL_SIZE, leading=11, alignment=TA_CENTER),
        "right": ParagraphStyle("right", base, fontSize=CELL_SIZE, leading=11, alignment=TA_RIGHT),
        **{f"{name}_small": ParagraphStyle(f"{name}_small", base, fontSize=SMALL_SIZE, leading=10, alignment=align)
           for name, align in (("left", TA_LEFT), ("center", TA_CENTER), ("right", TA_RIGHT))},
    }


class _CellParagraph(Paragraph):
    """A Paragraph that remembers its line breaks: a table cell is wrapped at the same width several times
    (measured, split, drawn), and CJK line breaking is the costliest part of a long bulletin."""

    _memo: tuple | None = None

    def wrap(self, availWidth, availHeight):  # noqa: N803 (reportlab's signature)
        memo = self._memo
        if memo is not None and memo[0] == availWidth:
            self.width, self._wrapWidths, self.blPara, self.height = memo[1:]
            return self.width, self.height
        width, height = super().wrap(availWidth, availHeight)
        self._memo = (availWidth, self.width, self._wrapWidths, self.blPara, self.height)
        return width, height


class _PagedTable(Flowable):
    """A long table handed to the frame one page of rows at a time.

    At every page break reportlab's Table re-measures all of its remaining rows, so a table of N rows costs
    O(N²). This measures the rows once, then splits by the measured heights into Tables of one page each
    (header repeated on every page), which keeps a bulletin of thousands of overdue cases linear.
    """

    def __init__(self, make, start: int, end: int, width: float, heights: dict | None = None):
        super().__init__()
        self._make, self._start, self._end = make, start, end
        self.width, self.height = width, 0
        self._heights = heights if heights is not None else {}
        self.hAlign = "LEFT"

    def _measure(self, avail_width: float) -> dict:
        if not self._heights:
            whole = self._make(self._start, self._end)
            whole.wrap(avail_width, 1e9)
            cum = [0.0]
            for h in whole._rowHeights[1:]:
                cum.append(cum[-1] + h)
            self._heights.update(head=whole._rowHeights[0], cum=cum, base=self._start)
        return self._heights

    def _span(self, start: int, end: int) -> float:
        """Height of rows [start, end)."""
        h = self._heights
        return h["cum"][end - h["base"]] - h["cum"][start - h["base"]]

    def wrap(self, avail_width, avail_height):
        h = self._measure(avail_width)
        self.height = h["head"] + self._span(self._start, self._end)
        return self.width, self.height

    def split(self, avail_width, avail_height):
        h = self._measure(avail_width)
        base, cum = h["base"], h["cum"]
        # the last row that ends within the room left on this page
        limit = cum[self._start - base] + avail_height - h["head"] + 1e-6
        end = min(self._end, bisect.bisect_right(cum, limit) - 1 + base)
        if end <= self._start:
            return []  # not even one row fits: the frame moves on to the next page
        if end == self._end:
            return [self._make(self._start, self._end)]
        return [self._make(self._start, end), _PagedTable(self._make, end, self._end, self.width, h)]

    def draw(self):
        table = self._make(self._start, self._end)
        table.wrapOn(self.canv, self.width, self.height)
        table.drawOn(self.canv, 0, 0)


def _chinese_line_breaking() -> None:
    for module in (textsplit, paragraph):  # one-fragment paragraphs break in textsplit, the others in paragraph
        missing = "".join(ch for ch in _NO_LINE_START if ch not in module.ALL_CANNOT_START)
        if missing:
            module.ALL_CANNOT_START += missing


class _Renderer:
    def __init__(self, data: Mapping[str, Any], charts: Mapping[str, Any]):
        _chinese_line_breaking()
        self.data = data
        self.charts = charts
        self.font = pdf_font_name()
        self.st = _styles(self.font)
        self._width = stringWidth

    # -- tables ---------------------------------------------------------------------------------------------
    def _fits(self, text: str, width: float, size: float = CELL_SIZE) -> bool:
        return self._width(text, self.font, size) <= width - 2 * PAD - 0.5

    def _cell(self, cell: Cell, width: float):
        if cell.sub:
            main, sub = escape(cell.main), escape(cell.sub)
            sep = "" if self._fits(cell.text, width) else "<br/>"
            markup = f'{main}{sep}<font size="{SUB_SIZE}" color="#555555">{sub}</font>'
            if cell.tone:
                markup = f'<font color="{TONES[cell.tone]}">{markup}</font>'
            return _CellParagraph(markup, self.st[cell.align])
        if not cell.wrap and self._fits(cell.text, width):
            return cell.text  # a plain string: drawn by the table, far cheaper than a Paragraph
        markup = escape(cell.text)
        if cell.tone:
            markup = f'<font color="{TONES[cell.tone]}">{markup}</font>'
        if not cell.wrap and self._fits(cell.text, width, SMALL_SIZE):
            return _CellParagraph(markup, self.st[f"{cell.align}_small"])  # a name: one line in narrower type
        return _CellParagraph(markup, self.st[cell.align])

    def table(self, t: Table):
        widths = [w * FRAME_W for w in t.widths]
        head = [Paragraph(escape(h), self.st["th"] if self._fits(h, w) else self.st["th_small"])
                for h, w in zip(t.headers, widths, strict=True)]
        body = [[self._cell(cell, widths[i]) for i, cell in enumerate(row)] for row in t.rows]
        base: list[tuple] = [
            ("FONTNAME", (0, 0), (-1, -1), self.font),
            ("FONTSIZE", (0, 0), (-1, -1), CELL_SIZE),
            ("LEADING", (0, 0), (-1, -1), 11),
            ("GRID", (0, 0), (-1, -1), 0.5, HexColor(GRID)),
            ("BACKGROUND", (0, 0), (-1, 0), HexColor(HEAD_BG)),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), PAD),
            ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ]
        if not body:
            empty = [[Paragraph(escape(t.empty), self.st["center"])] + [""] * (len(t.headers) - 1)]
            table = RLTable([head, *empty], colWidths=widths, repeatRows=1, hAlign="LEFT")
            table.setStyle([*base, ("SPAN", (0, 1), (-1, 1))])
            return table
        base += [("ALIGN", (col, 1), (col, -1), cell.align.upper()) for col, cell in enumerate(t.rows[0])]

        def make(start: int, end: int):
            """A reportlab Table of the header and rows [start, end), styled as the whole table would be."""
            style = list(base)
            for r in range(start, end):
                row = r - start + 1
                for col, cell in enumerate(t.rows[r]):
                    if cell.tone and isinstance(body[r][col], str):
                        style.append(("TEXTCOLOR", (col, row), (col, row), HexColor(TONES[cell.tone])))
                tone = t.row_tones[r] if r < len(t.row_tones) else ""
                if tone in ROW_BACKGROUNDS:
                    style.append(("BACKGROUND", (0, row), (-1, row), HexColor(ROW_BACKGROUNDS[tone])))
            table = RLTable([head, *body[start:end]], colWidths=widths, repeatRows=1, hAlign="LEFT")
            table.setStyle(style)
            return table

        if len(body) <= PAGED_ROWS:
            return make(0, len(body))
        return _PagedTable(make, 0, len(body), sum(widths))

    # -- charts ---------------------------------------------------------------------------------------------
    def chart(self, name: str):
        source = self.charts.get(name)
        if source is None:
            return None
        if isinstance(source, bytes | bytearray):
            source = io.BytesIO(source)
        elif not isinstance(source, io.IOBase):
            source = str(Path(source))
        iw, ih = ImageReader(source).getSize()
        if isinstance(source, io.IOBase):
            source.seek(0)
        w = FRAME_W * CHART_WIDTHS.get(name, 0.92)
        h = w * ih / iw
        limit = FRAME_H * 0.9
        if h > limit:
            w, h = w * limit / h, limit
        img = Image(source, width=w, height=h)
        img.hAlign = "CENTER"
        return [Spacer(1, 4), img, Spacer(1, 8)]

    # -- document -------------------------------------------------------------------------------------------
    def flowables(self) -> list:
        st = self.st
        story: list = [
            Paragraph("吹哨报到工作通报", st["masthead"]),
            Paragraph(escape(common.title_of(self.data)), st["title"]),
            Paragraph(escape(f"统计周期：{common.period_text(self.data.get('period'))}") + "&#160;" * 6
                      + escape(f"生成时间：{common.generated_text(self.data)}"), st["meta"]),
            Spacer(1, 4),
            HRFlowable(width="100%", thickness=1.6, color=HexColor(RED), spaceBefore=2, spaceAfter=6),
            *(Paragraph(escape(n), st["notice"]) for n in common.notices(self.data)),
        ]
        for b in build(self.data):
            story += self.block(b)
        story.append(Paragraph("本通报由“吹哨”系统根据业务数据自动生成，各项数据口径见“附：口径说明”。", st["footer"]))
        return story

    def block(self, b: Block) -> list:
        if b.kind in ("h2", "h3", "note"):
            return [Paragraph(escape(b.text), self.st[b.kind])]
        if b.kind == "p":
            return [Paragraph(escape(b.text), self.st["p"])]
        if b.kind == "table" and b.table is not None:
            return [self.table(b.table)]
        if b.kind == "chart":
            return self.chart(b.chart) or []
        return []


def _decorate(title: str, font: str):
    while len(title) > 1 and stringWidth(title, font, 8) > FRAME_W:  # the running head stays on one line
        title = title[:-2] + "…"

    def on_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.setFillColor(HexColor("#555555"))
        canvas.drawCentredString(PAGE_W / 2, 9 * MM, f"第 {doc.page} 页")
        if doc.page > 1:
            canvas.setFont(font, 8)
            canvas.drawString(MARGIN_X, PAGE_H - 11 * MM, title)
            canvas.setStrokeColor(HexColor("#bbbbbb"))
            canvas.setLineWidth(0.5)
            canvas.line(MARGIN_X, PAGE_H - 12.5 * MM, PAGE_W - MARGIN_X, PAGE_H - 12.5 * MM)
        canvas.restoreState()

    return on_page


def render_pdf(data: Mapping[str, Any], charts: Mapping[str, Any] | None = None) -> bytes:
    """The PDF bytes. ``charts`` maps a chart name to a PNG path (or PNG bytes); ``None`` draws them in memory."""
    if charts is None:
        from chuishao.flows.reports.charts import chart_images

        charts = chart_images(data)
    r = _Renderer(data, charts)
    title = common.title_of(data)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=(PAGE_W, PAGE_H), leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM, title=title, author=str(data.get("county") or ""), subject="每月一通报",
        creator="chuishao", producer="chuishao (reportlab)", lang="zh-CN", invariant=1, initialFontName=r.font,
    )
    decorate = _decorate(title, r.font)
    doc.build(r.flowables(), onFirstPage=decorate, onLaterPages=decorate)
    return buf.getvalue()
