"""The bulletin as an Excel workbook: one sheet per table, figures as numbers (rates with their
numerator and denominator in their own columns), so a reader can recompute or re-sort everything."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from chuishao.flows import legal
from chuishao.flows.reports import common as c
from chuishao.flows.rounding import difference, half_up

PCT = "0.0%"
CHANGE = "+0.0%;-0.0%;0.0%"
PP = '+0.0"个百分点";-0.0"个百分点";0.0"个百分点"'
SCORE = "0.00"
DT = "yyyy-mm-dd hh:mm"
HEAD_FILL = "EEF1F6"
MAX_WIDTH = 60
PAPER_A4 = 9  # Excel's paper size code
_SURROGATES = re.compile("[\ud800-\udfff]")  # half a UTF-16 pair: not text, and not valid in XML


@dataclass(frozen=True, slots=True)
class Col:
    header: str
    get: Callable[[Mapping[str, Any]], Any]
    fmt: str | Callable[[Mapping[str, Any]], str | None] | None = None  # number format (or one per row)


def _num(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _rate(key: str, label: str | None = None) -> list[Col]:
    """A rate as three columns: the rate (a number shown as %), its numerator and its denominator."""
    label = label or dict(c.METRICS).get(key, key)

    def part(name: str):
        return lambda r: _num(r.get(key, {}).get(name)) if isinstance(r.get(key), Mapping) else None

    return [Col(label, part("rate"), PCT), Col(f"{label}分子", part("num")), Col(f"{label}分母", part("den"))]


def _dt(value: Any) -> datetime | str | None:
    d = c.parse_dt(value)
    if d is None:
        return value or None
    return d.replace(tzinfo=None)  # Excel has no time zones; the bulletin's times are Beijing time


def _text(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda r: r.get(key)


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, float):
        return 8
    if isinstance(value, datetime):
        return 16
    s = str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _clean(value: Any) -> Any:
    """A cell value: text without the control characters XLSX cannot hold; nested data as text."""
    if isinstance(value, Mapping | list):
        value = str(value)
    if isinstance(value, str):
        value = _SURROGATES.sub("\ufffd", ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def _sheet(wb, title: str, cols: list[Col], items: list[Mapping[str, Any]]) -> None:
    """One sheet: a bold, frozen header row, then one row per item (write-only, so long lists stay fast)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    table = [[_clean(col.get(item)) for col in cols] for item in items]
    widths = [max([_width(col.header)] + [_width(row[i]) for row in table]) for i, col in enumerate(cols)]
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = min(MAX_WIDTH, max(8, w + 2))
    ws.freeze_panes = "A2"
    if items:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{len(items) + 1}"
    ws.print_title_rows = "1:1"
    ws.page_setup.paperSize = PAPER_A4
    ws.page_setup.orientation = "landscape" if len(cols) > 8 else "portrait"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True

    bold, fill = Font(bold=True), PatternFill("solid", fgColor=HEAD_FILL)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    header = []
    for col in cols:
        cell = WriteOnlyCell(ws, value=col.header)
        cell.font, cell.fill, cell.alignment = bold, fill, center
        header.append(cell)
    ws.append(header)

    wrap = Alignment(wrap_text=True, vertical="top")
    wraps = {i for i, w in enumerate(widths) if w > MAX_WIDTH}
    for item, values in zip(items, table, strict=True):
        for i, v in enumerate(values):
            fmt = cols[i].fmt(item) if callable(cols[i].fmt) else cols[i].fmt
            numeric = isinstance(v, int | float | datetime) and not isinstance(v, bool)
            formula_like = isinstance(v, str) and v.startswith("=")
            if (fmt and numeric) or formula_like or i in wraps:
                cell = WriteOnlyCell(ws, value=v)
                if formula_like:
                    cell.data_type = "s"  # text that starts with "=" stays text, never a formula
                if fmt and numeric:
                    cell.number_format = fmt
                if i in wraps:
                    cell.alignment = wrap
                values[i] = cell
        ws.append(values)


def _info(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    period = data.get("period") if isinstance(data.get("period"), Mapping) else {}
    return [
        {"k": "标题", "v": c.title_of(data)},
        {"k": "县（区）", "v": data.get("county")},
        {"k": "月份", "v": data.get("month")},
        {"k": "统计周期", "v": c.period_text(data.get("period"))},
        {"k": "统计开始", "v": _dt(period.get("start"))},
        {"k": "统计结束（不含）", "v": _dt(period.get("end"))},
        {"k": "生成时间", "v": _dt(data.get("generated_at"))},
        {"k": "状态", "v": "预览（统计月未结束）" if data.get("preview") else "正式通报"},
        *({"k": "提示", "v": n} for n in c.notices(data)),
        {"k": "说明", "v": "时间均为北京时间；比率以小数存储、按百分比显示，分母为0时留空；各表说明见“口径说明”。"},
    ]


def _overview_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for it in c.rows(data, "overview"):
        value, previous = it.get("value"), it.get("previous")
        row = {"key": it.get("key"), "label": it.get("label")}
        if c.is_rate(value):
            a = _num(value.get("rate"))
            b = _num(previous.get("rate")) if isinstance(previous, Mapping) else None
            row.update(value=a, vnum=_num(value.get("num")), vden=_num(value.get("den")), previous=b,
                       pnum=_num(previous.get("num")) if isinstance(previous, Mapping) else None,
                       pden=_num(previous.get("den")) if isinstance(previous, Mapping) else None,
                       change=None, pp=half_up(difference(a, b) * 100, 4) if a is not None and b is not None else None,
                       fmt=PCT)
        else:
            row.update(value=_num(value) if _num(value) is not None else value, previous=previous,
                       change=_num(it.get("change")))
        out.append(row)
    return out


def render_xlsx(data: Mapping[str, Any]) -> bytes:
    """The workbook as .xlsx bytes."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    title = c.title_of(data)
    wb.properties.title = title
    wb.properties.subject = "每月一通报"
    wb.properties.creator = "chuishao"
    generated = _dt(data.get("generated_at"))
    if isinstance(generated, datetime):
        wb.properties.created = generated

    _sheet(wb, "通报信息", [Col("项目", _text("k")), Col("内容", _text("v"), DT)], _info(data))

    overview = _overview_rows(data)
    _sheet(wb, "总体情况", [
        Col("指标编码", _text("key")), Col("指标", _text("label")),
        Col("本月", _text("value"), _text("fmt")), Col("上月", _text("previous"), _text("fmt")),
        Col("环比", _text("change"), CHANGE), Col("比率变化", _text("pp"), PP),
        Col("本月分子", _text("vnum")), Col("本月分母", _text("vden")),
        Col("上月分子", _text("pnum")), Col("上月分母", _text("pden")),
    ], overview)  # rate rows show their value as a percentage (fmt), count rows as plain numbers

    _sheet(wb, "来源", [Col("来源编码", _text("source")), Col("来源", _text("label")), Col("件数", _text("count")),
                      Col("占比", _text("share"), PCT)], c.rows(data, "by_source"))

    hot = sorted(c.rows(data, "hotspots"), key=lambda h: -(h.get("count") or 0))
    _sheet(wb, "热点事项", [
        Col("排名", lambda h: h["_i"] + 1), Col("事项编码", _text("code")), Col("事项名称", _text("name")),
        Col("分类", _text("category")), Col("本月", _text("count")), Col("上月", _text("previous")),
        Col("环比", lambda h: c.relative_change(h.get("count"), h.get("previous")), CHANGE),
    ], [dict(h, _i=i) for i, h in enumerate(hot)])

    _sheet(wb, "乡镇", [
        Col("乡镇编码", _text("code")), Col("乡镇", _text("name")), Col("新增", _text("received")),
        Col("结案", _text("closed")), Col("未结", _text("open")), Col("超期", _text("overdue")), *_rate("on_time"),
    ], c.rows(data, "by_township"))

    _sheet(wb, "部门", [
        Col("部门编码", _text("code")), Col("部门", _text("name")), Col("接哨数", _text("whistles")),
        Col("结案", _text("closed")), Col("未结", _text("open")), Col("超期", _text("overdue")), *_rate("on_time"),
    ], c.rows(data, "by_department"))

    lists = {r.get("code"): "红榜" for r in c.rows(data, "red_list")}
    lists.update({r.get("code"): "黑榜" for r in c.rows(data, "black_list")})

    def rating(key: str) -> Callable[[Mapping[str, Any]], Any]:
        return lambda d: _num(d["rating"].get(key)) if isinstance(d.get("rating"), Mapping) else None

    _sheet(wb, "部门考核", [
        Col("排名", _text("rank")), Col("部门编码", _text("code")), Col("部门", _text("name")),
        Col("接哨数", _text("whistles")), Col("近三月接哨数", _text("whistles_3m")),
        *(col for key, _ in c.METRICS for col in _rate(key)),
        Col(f"{c.RATING_LABEL}平均分", rating("avg"), "0.00"), Col(f"{c.RATING_LABEL}评价次数", rating("count")),
        Col("综合得分", _text("score"), SCORE), Col("榜单", lambda d: lists.get(d.get("code"))),
        Col(legal.LABELS[legal.SUBMITTED], _text(legal.SUBMITTED)),
        *(col for key in (legal.FIRST_PASS, legal.RETURNED) for col in _rate(key, legal.LABELS[key])),
    ], c.rows(data, "scorecard"))

    weights = data.get("weights") if isinstance(data.get("weights"), Mapping) else {}
    _sheet(wb, "考核权重", [Col("指标编码", _text("k")), Col("指标", _text("label")), Col("权重", _text("v"))],
           [{"k": k, "label": c.WEIGHT_LABELS.get(k, k), "v": v} for k, v in weights.items()])

    ranked = [dict(r, _list="红榜") for r in c.rows(data, "red_list")]
    ranked += [dict(r, _list="黑榜") for r in c.rows(data, "black_list")]
    _sheet(wb, "红黑榜", [
        Col("榜单", _text("_list")), Col("名次", _text("rank")), Col("部门编码", _text("code")),
        Col("部门", _text("name")), Col("近三月接哨数", _text("whistles_3m")),
        Col("综合得分", _text("score"), SCORE), Col("理由", _text("reason")),
    ], ranked)

    cases = [dict(r, _kind="超期") for r in c.rows(data, "overdue_cases")]
    cases += [dict(r, _kind="督办") for r in c.rows(data, "supervised_cases")]
    _sheet(wb, "超期督办", [
        Col("类别", _text("_kind")), Col("案件ID", _text("id")), Col("案件编号", _text("code")),
        Col("标题", _text("title")),
        Col("乡镇", _text("township")), Col("承办单位", _text("unit")), Col("级别代码", _text("level")),
        Col("预警级别", lambda r: c.level_text(r) if r.get("_kind") == "超期" else None),
        Col("超期环节时限", lambda r: _dt(r.get("deadline")), DT), Col("督办意见", _text("note")),
        Col("督办时间", lambda r: _dt(r.get("at")), DT),
    ], cases)

    _sheet(wb, "典型案例", [
        Col("类型", lambda r: c.kind_text(r.get("kind"))), Col("案件ID", _text("id")), Col("案件编号", _text("code")),
        Col("标题", _text("title")), Col("说明", _text("reason")),
    ], c.rows(data, "typical_cases"))

    from chuishao.flows.reports.case_review import bulletin_sheets  # 案卷评查, from this module's sheets

    bulletin_sheets(wb, data)
    _sheet(wb, "口径说明", [Col("指标", _text("term")), Col("口径", _text("definition"))], c.rows(data, "definitions"))

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
