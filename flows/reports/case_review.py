"""案卷评查 in print: the monthly bulletin's section (blocks for the HTML/PDF layout, sheets for the XLSX) and the
yearly review report (年度案卷评查报告) as HTML, PDF and XLSX, from the dicts flows/case_review.py builds.

Pure functions of the data, like the rest of flows/reports: the same layout blocks, fonts, page set-up and sheets as
the bulletin; only the masthead and the sections differ."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from chuishao.flows.reports import common as c
from chuishao.flows.reports.layout import Block, Cell, Table, _n, _name, _r, _t

SECTION_TITLE = "七、案卷评查"
MASTHEAD = "行政执法案卷评查报告"
NO_REVIEWS = "本期无定稿的评查案卷"


def _department_table(rows: list[Mapping[str, Any]]) -> Table:
    t = Table(["部门", "评查案卷", "合格", "不合格", "案卷合格率"], [0.34, 0.14, 0.12, 0.12, 0.28],
              name="case_review_departments", empty=NO_REVIEWS)
    for r in rows:
        failed = r.get("failed")
        t.rows.append([_name(r), _n(r.get("reviewed")), _n(r.get("passed")),
                       Cell(c.num_text(failed), "right", tone="red" if failed else ""), _r(r.get("rate"))])
    return t


def _failed_table(cases: list[Mapping[str, Any]]) -> Table:
    t = Table(["序号", "案件编号", "标题", "部门", "不合格项及问题"], [0.06, 0.17, 0.2, 0.15, 0.42],
              name="case_review_failed", empty="本期无不合格案卷")
    for i, r in enumerate(cases, 1):
        problems = "；".join(f"{f.get('label')}：{f.get('note')}" for f in r.get("failed") or ())
        t.rows.append([Cell(str(i), "center"), _t(r.get("code")), _t(r.get("title")), _t(r.get("unit_name")),
                       _t(problems)])
    return t


def _summary(total: Any, what: str) -> str:
    if not c.is_rate(total) or not total.get("den"):
        return f"{what}无定稿的评查案卷。"
    failed = total["den"] - total["num"]
    return (f"{what}定稿评查案卷{total['den']}件，其中合格{total['num']}件、不合格{failed}件，"
            f"案卷合格率{c.rate_text(total)}。")


def bulletin_blocks(data: Mapping[str, Any]) -> list[Block]:
    """The bulletin's 七、案卷评查 section: the month's total, 案卷合格率 per department and the failed cases with
    their failed points (none when the bulletin predates the section)."""
    section = data.get("case_review")
    if not isinstance(section, Mapping):
        return []
    return [Block("h2", SECTION_TITLE), Block("p", _summary(section.get("total"), "本月")),
            Block("table", table=_department_table(c.rows(section, "by_department"))),
            Block("h3", "不合格案卷及问题"), Block("table", table=_failed_table(c.rows(data, "case_review_cases"))),
            Block("note", "案卷合格率 = 六项均合格的案卷数 ÷ 定稿的评查案卷数，按定稿月份统计"
                          "（见附：口径说明“案卷合格率”）。")]


def _rate(key: str, label: str) -> list:
    """A rate as three columns: the rate (shown as %), its numerator and its denominator."""
    from chuishao.flows.reports.xlsx import PCT, Col, _num

    def part(name: str):
        return lambda r: _num(r[key].get(name)) if isinstance(r.get(key), Mapping) else None

    return [Col(label, part("rate"), PCT), Col(f"{label}分子", part("num")), Col(f"{label}分母", part("den"))]


def _sheets(wb, section: Mapping[str, Any], cases: list[Mapping[str, Any]], by_point: bool = False) -> None:
    from chuishao.flows.reports.xlsx import Col, _sheet, _text

    _sheet(wb, "案卷评查", [Col("部门编码", _text("code")), Col("部门", _text("name")),
                        Col("评查案卷", _text("reviewed")), Col("合格", _text("passed")),
                        Col("不合格", _text("failed")),
                        *_rate("rate", "案卷合格率")], c.rows(section, "by_department"))
    if by_point:
        _sheet(wb, "评查项目", [Col("项目编码", _text("point")), Col("评查项目", _text("label")),
                            Col("不合格案卷", _text("failed")), *_rate("rate", "合格率")], c.rows(section, "by_point"))
    _sheet(wb, "不合格案卷", [Col("案件ID", _text("id")), Col("案件编号", _text("code")), Col("标题", _text("title")),
                         Col("部门", _text("unit_name")), Col("不合格项及问题", _text("problems")),
                         Col("定稿时间", _text("finalised_at"))], cases)


def bulletin_sheets(wb, data: Mapping[str, Any]) -> None:
    """The bulletin workbook's 案卷评查 and 不合格案卷 sheets (none when the bulletin predates the section)."""
    section = data.get("case_review")
    if isinstance(section, Mapping):
        _sheets(wb, section, c.rows(data, "case_review_cases"))


# ---- the yearly report ------------------------------------------------------------------------------------
def yearly_blocks(data: Mapping[str, Any]) -> list[Block]:
    """The yearly report's body: overview, per department, per point, failed cases, the draws, the appendix."""
    year = data.get("year")
    out = [Block("h2", "一、总体情况"), Block("p", _summary(data.get("total"), f"{year}年全年"))]
    out += [Block("h2", "二、各部门案卷合格率"), Block("table", table=_department_table(c.rows(data, "by_department")))]
    t = Table(["评查项目", "不合格案卷", "合格率"], [0.4, 0.2, 0.4], name="case_review_points", empty=NO_REVIEWS)
    for p in c.rows(data, "by_point"):
        t.rows.append([_t(p.get("label")), _n(p.get("failed")), _r(p.get("rate"))])
    out += [Block("h2", "三、评查项目情况"), Block("table", table=t)]
    out += [Block("h2", "四、不合格案卷及问题"), Block("table", table=_failed_table(c.rows(data, "failed_cases")))]
    t = Table(["抽样期间", "随机种子", "抽取规则", "候选案卷", "抽中案卷", "抽样时间"],
              [0.18, 0.14, 0.18, 0.14, 0.14, 0.22], name="case_review_draws", empty="本年无抽样记录")
    for d in c.rows(data, "draws"):
        rule = f"每部门{d.get('size')}件" if d.get("size") else f"每部门{d.get('share')}%"
        t.rows.append([_t(d.get("period")), Cell(str(d.get("seed")), "right"), _t(rule), _n(d.get("candidates")),
                       _n(d.get("sampled")), Cell(c.dt_text(d.get("drawn_at")), "center")])
    out += [Block("h2", "五、抽样记录"), Block("table", table=t)]
    t = Table(["指标", "口径"], [0.2, 0.8], name="definitions")
    for r in c.rows(data, "definitions"):
        t.rows.append([_t(r.get("term")), _t(r.get("definition"))])
    return out + [Block("h2", "附：口径说明"), Block("table", table=t)]


def render_yearly_html(data: Mapping[str, Any]) -> str:
    """The yearly report as one self-contained HTML page (the bulletin's page layout and CSS)."""
    from chuishao.flows.reports.html import CSS, _template

    page = _template().render(title=c.title_of(data), period=c.period_text(data.get("period")),
                              generated=c.generated_text(data), notices=[], blocks=yearly_blocks(data), charts={},
                              chart_titles={}, css=CSS)
    return page.replace('<p class="masthead">吹哨报到工作通报</p>', f'<p class="masthead">{MASTHEAD}</p>', 1)


def render_yearly_pdf(data: Mapping[str, Any]) -> bytes:
    """The yearly report as an A4 PDF with the CJK font embedded (the bulletin's PDF renderer and styles)."""
    from xml.sax.saxutils import escape

    from reportlab.lib.colors import HexColor
    from reportlab.platypus import HRFlowable, Paragraph, SimpleDocTemplate, Spacer

    from chuishao.flows.reports import pdf

    class Yearly(pdf._Renderer):
        def flowables(self) -> list:
            st = self.st
            story: list = [
                Paragraph(MASTHEAD, st["masthead"]), Paragraph(escape(c.title_of(self.data)), st["title"]),
                Paragraph(escape(f"统计周期：{c.period_text(self.data.get('period'))}　　"
                                     f"生成时间：{c.generated_text(self.data)}"), st["meta"]),
                Spacer(1, 4), HRFlowable(width="100%", thickness=1.6, color=HexColor(pdf.RED), spaceAfter=6)]
            for b in yearly_blocks(self.data):
                story += self.block(b)
            return story

    r = Yearly(data, {})
    title = c.title_of(data)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=(pdf.PAGE_W, pdf.PAGE_H), leftMargin=pdf.MARGIN_X,
                            rightMargin=pdf.MARGIN_X, topMargin=pdf.MARGIN_TOP, bottomMargin=pdf.MARGIN_BOTTOM,
                            title=title, author=str(data.get("county") or ""), subject="案卷评查",
                            creator="chuishao", lang="zh-CN", invariant=1, initialFontName=r.font)
    decorate = pdf._decorate(title, r.font)
    doc.build(r.flowables(), onFirstPage=decorate, onLaterPages=decorate)
    return buf.getvalue()


def render_yearly_xlsx(data: Mapping[str, Any]) -> bytes:
    """The yearly report as a workbook: per department, per point, failed cases, draws, definitions."""
    from openpyxl import Workbook

    from chuishao.flows.reports.xlsx import Col, _sheet, _text

    wb = Workbook(write_only=True)
    wb.properties.title, wb.properties.subject, wb.properties.creator = c.title_of(data), "案卷评查", "chuishao"
    _sheets(wb, data, c.rows(data, "failed_cases"), by_point=True)
    _sheet(wb, "抽样记录", [Col("抽样ID", _text("id")), Col("抽样期间", _text("period")),
                        Col("随机种子", _text("seed")),
                        Col("每部门件数", _text("size")), Col("每部门比例%", _text("share")),
                        Col("候选案卷", _text("candidates")), Col("抽中案卷", _text("sampled")),
                        Col("抽样时间", _text("drawn_at"))], c.rows(data, "draws"))
    _sheet(wb, "口径说明", [Col("指标", _text("term")), Col("口径", _text("definition"))], c.rows(data, "definitions"))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


YEARLY_FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def render_yearly(data: Mapping[str, Any], fmt: str) -> bytes:
    """One format ("html", "pdf", "xlsx") of the yearly report as bytes."""
    if fmt == "html":
        return render_yearly_html(data).encode("utf-8")
    if fmt == "pdf":
        return render_yearly_pdf(data)
    if fmt == "xlsx":
        return render_yearly_xlsx(data)
    raise ValueError(f"unknown format {fmt!r}")
