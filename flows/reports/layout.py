"""The bulletin as a printed document: sections, paragraphs, tables and charts, in reading order.

The HTML and the PDF both render this one structure, so they carry the same sections, tables and figures;
only the typography differs. Cells are plain text; escaping is the renderer's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chuishao.flows import legal
from chuishao.flows.reports import common as c

Align = Literal["left", "center", "right"]


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    align: Align = "left"
    sub: str = ""  # a second, smaller line (a rate's numerator/denominator); part of the cell's text
    tone: str = ""  # "red", "amber", "green": a highlight the reader should notice
    wrap: bool = False  # long free text: wrap within the column

    @property
    def main(self) -> str:
        return self.text[: len(self.text) - len(self.sub)] if self.sub else self.text


@dataclass(slots=True)
class Table:
    headers: list[str]
    widths: list[float]  # relative column widths (sum to 1)
    rows: list[list[Cell]] = field(default_factory=list)
    row_tones: list[str] = field(default_factory=list)  # per row: "", "red" (红榜) or "black" (黑榜)
    name: str = ""
    empty: str = c.NO_DATA


@dataclass(frozen=True, slots=True)
class Block:
    kind: Literal["h2", "h3", "p", "note", "table", "chart"]
    text: str = ""
    table: Table | None = None
    chart: str = ""  # chart name (charts.CHARTS)


def _n(value: Any) -> Cell:
    return Cell(c.num_text(value), "right")


def _r(rate: Any) -> Cell:
    if not isinstance(rate, Mapping):
        return Cell(c.DASH, "right")
    return Cell(c.rate_text(rate), "right", sub=c.fraction_text(rate))


def _t(value: Any, wrap: bool = True) -> Cell:
    return Cell(c.text(value), wrap=wrap)


def _name(row: Mapping[str, Any]) -> Cell:
    """A unit's name: kept on one line (a narrower type if need be) unless it is really long."""
    return _t(row.get("name") or row.get("code"), wrap=False)


def _chg(text: str) -> Cell:
    return Cell(text, "right")


def _chart(name: str, table: Table) -> list[Block]:
    """The chart of a table, unless the table is empty (it already says 本月无数据; the PNG still exists)."""
    return [Block("chart", chart=name)] if table.rows else []


def _overview(data: Mapping[str, Any]) -> list[Block]:
    items = c.rows(data, "overview")
    out = [Block("h2", c.SECTION_TITLES[0])]
    if items:
        parts = []
        for it in items:
            value = it.get("value")
            figure = f"{c.rate_pct(value)}（{c.num_text(value.get('num'))}/{c.num_text(value.get('den'))}）" \
                if c.is_rate(value) else c.num_text(value) + ("件" if isinstance(value, int) else "")
            change = c.change_words(it)
            parts.append(f"{c.text(it.get('label'))}{figure}" + (f"，{change}" if change else ""))
        out.append(Block("p", f"本月（{c.period_text(data.get('period'))}），全县" + "；".join(parts) + "。"))
    t = Table(["指标", "本月", "上月", "环比"], [0.34, 0.24, 0.24, 0.18], name="overview")
    for it in items:
        t.rows.append([
            _t(it.get("label"), wrap=False),
            _r(it["value"]) if c.is_rate(it.get("value")) else _n(it.get("value")),
            _r(it["previous"]) if c.is_rate(it.get("previous")) else _n(it.get("previous")),
            _chg(c.overview_change_text(it)),
        ])
    out.append(Block("table", table=t))
    return out


def _categories(data: Mapping[str, Any]) -> list[Block]:
    out = [Block("h2", c.SECTION_TITLES[1]), Block("h3", "（一）按来源")]
    t = Table(["来源", "件数", "占比"], [0.5, 0.25, 0.25], name="by_source")
    for s in c.rows(data, "by_source"):
        t.rows.append([_t(s.get("label") or s.get("source")), _n(s.get("count")), Cell(c.pct(s.get("share")), "right")])
    out += [Block("table", table=t), *_chart("sources", t)]

    out.append(Block("h3", "（二）热点事项（前10）"))
    t = Table(["序号", "事项编码", "事项名称", "分类", "本月", "上月", "环比"],
              [0.07, 0.13, 0.22, 0.24, 0.1, 0.1, 0.14], name="hotspots")
    for i, h in enumerate(c.top_hotspots(data, 10), 1):
        t.rows.append([Cell(str(i), "center"), _t(h.get("code"), wrap=False), _t(h.get("name")), _t(h.get("category")),
                       _n(h.get("count")), _n(h.get("previous")),
                       _chg(c.change_text(c.relative_change(h.get("count"), h.get("previous"))))])
    out += [Block("table", table=t), *_chart("hotspots", t)]

    out.append(Block("h3", "（三）按乡镇"))
    t = Table(["乡镇（街道）", "新增", "结案", "未结", "超期", "按期办结率"],
              [0.24, 0.12, 0.12, 0.12, 0.12, 0.28], name="by_township")
    for r in c.rows(data, "by_township"):
        t.rows.append([_name(r), _n(r.get("received")), _n(r.get("closed")),
                       _n(r.get("open")), _overdue(r.get("overdue")), _r(r.get("on_time"))])
    out += [Block("table", table=t), *_chart("townships", t)]

    out.append(Block("h3", "（四）按部门"))
    t = Table(["部门", "接哨数", "结案", "未结", "超期", "按期办结率"],
              [0.28, 0.12, 0.11, 0.11, 0.11, 0.27], name="by_department")
    for r in c.rows(data, "by_department"):
        t.rows.append([_name(r), _n(r.get("whistles")), _n(r.get("closed")),
                       _n(r.get("open")), _overdue(r.get("overdue")), _r(r.get("on_time"))])
    out.append(Block("table", table=t))
    return out


def _overdue(value: Any) -> Cell:
    cell = _n(value)
    return Cell(cell.text, "right", tone="red") if isinstance(value, int | float) and value > 0 else cell


def _list_tones(data: Mapping[str, Any]) -> dict[Any, str]:
    tones = {r.get("code"): "red" for r in c.rows(data, "red_list")}
    tones.update({r.get("code"): "black" for r in c.rows(data, "black_list")})
    return tones


def _scorecard(data: Mapping[str, Any]) -> list[Block]:
    cards = c.rows(data, "scorecard")
    out = [Block("h2", c.SECTION_TITLES[2])]
    scored = [d for d in cards if isinstance(d.get("score"), int | float)]
    unranked = c.rows(data, "unranked")
    aside = f"另有{len(unranked)}个单位本月无吹哨，不参与排名（见附：口径说明）。" if unranked else ""
    if scored:
        best = max(scored, key=lambda d: d["score"])
        worst = min(scored, key=lambda d: d["score"])
        out.append(Block("p", f"本月参加排名的部门共{len(scored)}个。综合得分最高的是{c.text(best.get('name'))}"
                              f"（{c.score_text(best['score'])}分），最低的是{c.text(worst.get('name'))}"
                              f"（{c.score_text(worst['score'])}分）。{aside}各项比率后括号内为分子/分母。"))
    elif aside:
        out.append(Block("p", aside))
    headers = ["排名", "部门", "接哨数", "近三月接哨数", *(label for _, label in c.METRICS), c.RATING_LABEL, "综合得分"]
    t = Table(headers, [0.045, 0.13, 0.055, 0.055] + [0.088] * 6 + [0.09, 0.097], name="scorecard")
    tones = _list_tones(data)
    for d in cards:
        rank = d.get("rank")
        t.rows.append([
            Cell(c.num_text(rank), "center"), _name(d), _n(d.get("whistles")), _n(d.get("whistles_3m")),
            *(_r(d.get(key)) for key, _ in c.METRICS),
            _rating(d.get("rating")),
            Cell(c.score_text(d.get("score")), "right"),
        ])
        t.row_tones.append(tones.get(d.get("code"), ""))
    out.append(Block("table", table=t))
    out.append(Block("note", f"综合得分权重：{c.weights_text(data.get('weights'))}。"
                             "红色底纹为红榜部门，灰色底纹为黑榜部门。"))
    out += _chart("scorecard", t)
    out += _legal_reviews(cards)
    return out


def _legal_reviews(cards: list[Mapping[str, Any]]) -> list[Block]:
    """重大执法决定法制审核: each unit with a submission or a decision in the month (flows/legal.py)."""
    keys = (legal.SUBMITTED, legal.FIRST_PASS, legal.RETURNED)
    reviewed = [d for d in cards if d.get(legal.SUBMITTED) or (d.get(legal.RETURNED) or {}).get("den")]
    out = [Block("h3", "重大执法决定法制审核")]
    if not reviewed:
        return out + [Block("p", "本月没有提交法制审核的重大执法决定。")]
    t = Table(["部门", *(legal.LABELS[k] for k in keys)], [0.34, 0.22, 0.22, 0.22], name="legal_reviews")
    for d in reviewed:
        t.rows.append([_name(d), _n(d.get(legal.SUBMITTED)), _r(d.get(legal.FIRST_PASS)), _r(d.get(legal.RETURNED))])
    return out + [Block("table", table=t)]


def _rating(rating: Any) -> Cell:
    if not isinstance(rating, Mapping):
        return Cell(c.DASH, "right")
    full = c.rating_text(rating)
    head = full.split("（", 1)[0]
    return Cell(full, "right", sub=full[len(head):])


def _lists(data: Mapping[str, Any]) -> list[Block]:
    out = [Block("h2", c.SECTION_TITLES[3])]
    left_out = [d for d in c.rows(data, "scorecard") if d.get("rank") and d.get("list_eligible") is False]
    if left_out:  # a ranked unit missing from the lists is explained, not silently skipped
        names = "、".join(f"{c.text(d.get('name'))}（第{c.num_text(d.get('rank'))}名，近三月接哨 "
                         f"{c.num_text(d.get('whistles_3m'))} 个）" for d in left_out)
        out.append(Block("note", f"近三月接哨数未达门槛的单位参加排名，但不列入红黑榜：{names}"
                                 "（见附：口径说明“红榜、黑榜”）。"))
    for title, key, tone in (("（一）红榜（可列榜单位中综合得分前3名）", "red_list", "red"),
                             ("（二）黑榜（可列榜单位中综合得分后3名）", "black_list", "")):
        out.append(Block("h3", title))
        t = Table(["名次", "部门", "综合得分", "理由"], [0.08, 0.22, 0.12, 0.58], name=key)
        for r in c.rows(data, key):
            t.rows.append([Cell(c.num_text(r.get("rank")), "center", tone=tone), _name(r),
                           Cell(c.score_text(r.get("score")), "right"), _t(r.get("reason"))])
        out.append(Block("table", table=t))
    return out


LEVEL_TONES = {"warning": "amber", "overdue": "red", "escalated": "red"}


MAX_CASE_ROWS = c.MAX_LISTED  # a printed bulletin lists this many cases per table; the XLSX lists them all


def _capped(data: Mapping[str, Any], key: str) -> tuple[list[dict[str, Any]], list[Block]]:
    """The first MAX_CASE_ROWS cases of a list, and the note that says the list is cut (none when it is not):
    "共 60 件，列出前 50 件，完整清单见 XLSX 附表“超期督办”。", shown above the table so no reader misses it."""
    items = c.rows(data, key)
    if len(items) <= MAX_CASE_ROWS:
        return items, []
    note = f"共 {len(items)} 件，列出前 {MAX_CASE_ROWS} 件，完整清单见 XLSX 附表“超期督办”。"
    return items[:MAX_CASE_ROWS], [Block("note", note)]


def _cases(data: Mapping[str, Any]) -> list[Block]:
    out = [Block("h2", c.SECTION_TITLES[4]), Block("h3", "（一）超期案件")]
    t = Table(["序号", "案件编号", "标题", "乡镇", "超期环节单位", "预警级别", "超期环节时限"],
              [0.06, 0.17, 0.29, 0.1, 0.13, 0.1, 0.15], name="overdue_cases")
    items, more = _capped(data, "overdue_cases")
    for i, r in enumerate(items, 1):
        t.rows.append([Cell(str(i), "center"), _t(r.get("code")), _t(r.get("title")), _t(r.get("township")),
                       _t(r.get("unit")), Cell(c.level_text(r), "center", tone=LEVEL_TONES.get(r.get("level"), "")),
                       Cell(c.dt_text(r.get("deadline")), "center")])
    out += [*more, Block("table", table=t), Block("h3", "（二）督办案件")]
    t = Table(["序号", "案件编号", "标题", "督办意见", "督办时间"], [0.06, 0.17, 0.25, 0.37, 0.15],
              name="supervised_cases")
    items, more = _capped(data, "supervised_cases")
    for i, r in enumerate(items, 1):
        t.rows.append([Cell(str(i), "center"), _t(r.get("code")), _t(r.get("title")), _t(r.get("note")),
                       Cell(c.dt_text(r.get("at")), "center")])
    out += [*more, Block("table", table=t)]
    return out


def _typical(data: Mapping[str, Any]) -> list[Block]:
    out = [Block("h2", c.SECTION_TITLES[5])]
    t = Table(["序号", "类型", "案件编号", "标题", "说明"], [0.06, 0.1, 0.17, 0.24, 0.43], name="typical_cases")
    for i, r in enumerate(c.rows(data, "typical_cases"), 1):
        tone = {"good": "green", "bad": "red"}.get(r.get("kind"), "")
        t.rows.append([Cell(str(i), "center"), Cell(c.kind_text(r.get("kind")), "center", tone=tone),
                       _t(r.get("code")), _t(r.get("title")), _t(r.get("reason"))])
    out.append(Block("table", table=t))
    return out


def _definitions(data: Mapping[str, Any]) -> list[Block]:
    out = [Block("h2", c.SECTION_TITLES[6])]
    t = Table(["指标", "口径"], [0.2, 0.8], name="definitions")
    for r in c.rows(data, "definitions"):
        t.rows.append([_t(r.get("term")), _t(r.get("definition"))])
    out.append(Block("table", table=t))
    out.append(Block("note", "注：1. 比率后括号内为分子/分母；分母为0的比率无意义，记为“—”。"
                             "2. 环比 =（本月 − 上月）÷ 上月，上月为0时记为“—”；"
                             "比率类指标的环比为两月比率之差（百分点）。"
                             f"3. 综合得分权重：{c.weights_text(data.get('weights'))}。"
                             f"4. 统计周期：{c.period_text(data.get('period'))}；时间均为北京时间。"))
    return out


def build(data: Mapping[str, Any]) -> list[Block]:
    """The whole bulletin body (after the title block), section by section."""
    from chuishao.flows.reports.case_review import bulletin_blocks  # it builds on this module's blocks

    blocks: list[Block] = []
    for part in (_overview, _categories, _scorecard, _lists, _cases, _typical, bulletin_blocks, _definitions):
        blocks += part(data)
    return blocks
