"""Shared wording and number formatting, so the HTML, PDF and XLSX say exactly the same thing.

Every function here is pure and tolerant: a bulletin dict with a missing section or a null figure renders
as "—" or "本月无数据", never as an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chuishao.flows.rounding import as_decimal, difference, exact_rate, half_up_text
from chuishao.models.vocabulary import ALERT_LABELS, METRIC_LABELS

DASH = "—"
MAX_LISTED = 50  # cases a printed case list shows (HTML, PDF); the XLSX has them all
NO_DATA = "本月无数据"

# The scorecard's figures, in the order of the table (key, column label).
METRICS: tuple[tuple[str, str], ...] = tuple(
    (key, METRIC_LABELS[key]) for key in ("check_in", "on_time", "closure", "returns", "rework", "satisfaction"))
RATING_LABEL = "一哨一考核"  # the scorecard's rating column; as a weight it is METRIC_LABELS["rating"]
WEIGHT_LABELS: dict[str, str] = METRIC_LABELS

TYPICAL_KINDS = {"good": "正面典型", "bad": "反面典型"}

SECTION_TITLES: tuple[str, ...] = (
    "一、总体情况",
    "二、分类统计",
    "三、部门考核排名",
    "四、红榜和黑榜",
    "五、超期及督办案件",
    "六、典型案例",
    "附：口径说明",
)


def rows(data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """A list section of the bulletin, or [] when absent/null."""
    value = data.get(key) if isinstance(data, Mapping) else None
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def is_rate(value: Any) -> bool:
    return isinstance(value, Mapping) and ("rate" in value or "den" in value)


def num_text(value: Any) -> str:
    """A count or a plain figure: 412, 3.25; null → —."""
    if value is None or isinstance(value, bool):
        return DASH
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return DASH
        return str(int(value)) if value.is_integer() else half_up_text(value, 2).rstrip("0").rstrip(".")
    return str(value)


def pct(rate: Any, digits: int = 1) -> str:
    """0.9333 → "93.3%", 0.0625 → "6.3%" (half up, flows/rounding.py); null → "—"."""
    if rate is None or isinstance(rate, bool) or not isinstance(rate, int | float) or rate != rate:
        return DASH
    return f"{half_up_text(as_decimal(rate) * 100, digits)}%"


def fraction_text(r: Any) -> str:
    """The numerator/denominator in full-width brackets: "（28/30）"; "" when there is none."""
    if not isinstance(r, Mapping) or (r.get("num") is None and r.get("den") is None):
        return ""
    return f"（{num_text(r.get('num'))}/{num_text(r.get('den'))}）"


def rate_pct(r: Any) -> str:
    """A rate as a percentage, rounded once from its exact numerator and denominator when it has them
    (1/16 → "6.3%"), else from the stored rate; "—" when there is none."""
    if not isinstance(r, Mapping):
        return DASH
    num, den = r.get("num"), r.get("den")
    if isinstance(num, int) and isinstance(den, int) and not isinstance(num, bool) and den > 0:
        return f"{half_up_text(exact_rate(num, den) * 100, 1)}%"
    return pct(r.get("rate"))


def rate_text(r: Any) -> str:
    """A rate with its denominator: "93.3%（28/30）"; a null rate → "—（0/0）"."""
    if not isinstance(r, Mapping):
        return DASH
    return rate_pct(r) + fraction_text(r)


def value_text(value: Any) -> str:
    """An overview figure: a count, or a rate with its denominator."""
    return rate_text(value) if is_rate(value) else num_text(value)


def change_text(change: Any) -> str:
    """Month-on-month change of a count: 0.084 → "↑8.4%", -0.05 → "↓5.0%", 0 → "持平", null → "—"."""
    if change is None or isinstance(change, bool) or not isinstance(change, int | float) or change != change:
        return DASH
    if abs(change) < 0.0005:
        return "持平"
    return f"{'↑' if change > 0 else '↓'}{pct(abs(change))}"


def pp_change_text(current: Any, previous: Any) -> str:
    """Change of a rate in percentage points: "↑2.1个百分点"."""
    a = current.get("rate") if isinstance(current, Mapping) else None
    b = previous.get("rate") if isinstance(previous, Mapping) else None
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return DASH
    d = difference(a, b) * 100
    if abs(d) < 0.05:
        return "持平"
    return f"{'↑' if d > 0 else '↓'}{half_up_text(abs(d), 1)}个百分点"


def overview_change_text(item: Mapping[str, Any]) -> str:
    if is_rate(item.get("value")):
        return pp_change_text(item.get("value"), item.get("previous"))
    return change_text(item.get("change"))


def change_words(item: Mapping[str, Any]) -> str:
    """The month-on-month change in words, for prose: "环比上升8.4%", "比上月提高2.1个百分点"; "" when unknown."""
    value, previous = item.get("value"), item.get("previous")
    if is_rate(value):
        a = value.get("rate")
        b = previous.get("rate") if isinstance(previous, Mapping) else None
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            return ""
        d = difference(a, b) * 100
        if abs(d) < 0.05:
            return "与上月持平"
        return f"比上月{'提高' if d > 0 else '下降'}{half_up_text(abs(d), 1)}个百分点"
    change = item.get("change")
    if not isinstance(change, int | float) or isinstance(change, bool) or change != change:
        return ""
    if abs(change) < 0.0005:
        return "与上月持平"
    return f"环比{'上升' if change > 0 else '下降'}{pct(abs(change))}"


def relative_change(current: Any, previous: Any) -> float | None:
    """(current − previous) ÷ previous; None when previous is 0 or missing."""
    if not isinstance(current, int | float) or not isinstance(previous, int | float) or not previous:
        return None
    return (current - previous) / previous


def parse_dt(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def dt_text(value: Any) -> str:
    """"2026-11-03T17:30:00+08:00" → "2026-11-03 17:30" (times are given in Beijing time)."""
    d = parse_dt(value)
    if d is None:
        return DASH if value in (None, "") else str(value)
    return d.strftime("%Y-%m-%d %H:%M")


def _cn_date(d: datetime) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def period_text(period: Any) -> str:
    """{"start": 11-01T00:00, "end": 12-01T00:00} (end exclusive) → "2026年11月1日至2026年11月30日"."""
    if not isinstance(period, Mapping):
        return DASH
    start, end = parse_dt(period.get("start")), parse_dt(period.get("end"))
    if start is None or end is None:
        return f"{period.get('start') or DASH} 至 {period.get('end') or DASH}"
    last = end - timedelta(microseconds=1) if end.time() == datetime.min.time() else end
    return f"{_cn_date(start)}至{_cn_date(last)}"


def generated_text(data: Mapping[str, Any]) -> str:
    d = parse_dt(data.get("generated_at"))
    return f"{_cn_date(d)} {d.strftime('%H:%M')}" if d else DASH


def title_of(data: Mapping[str, Any]) -> str:
    title = data.get("title")
    if title:
        return str(title)
    county, month = data.get("county") or "", data.get("month") or ""
    return f"{county}“乡镇吹哨、部门报到”工作月度通报（{month}）"


def notices(data: Mapping[str, Any]) -> list[str]:
    """What a reader must know before any figure, in the order to show it: that this is a preview of a month
    that has not ended, and that a unit's own version lists only its own cases. [] for the county's published
    bulletin."""
    out = []
    if data.get("preview"):
        out.append(f"预览（统计月未结束）：数据截至 {generated_text(data)}，不是正式通报，不发通知；"
                   "月末后生成的正式通报将替换本预览。")
    scope = data.get("scope")
    if isinstance(scope, Mapping) and scope.get("note"):
        out.append(str(scope["note"]))
    return out


def score_text(score: Any) -> str:
    if not isinstance(score, int | float) or isinstance(score, bool):
        return DASH
    return half_up_text(score, 2)


def rating_text(rating: Any) -> str:
    """{"avg": 4.3, "count": 20} → "4.30分（20次）"; no ratings → "—（0次）"."""
    if not isinstance(rating, Mapping):
        return DASH
    avg = rating.get("avg")
    head = f"{half_up_text(avg, 2)}分" if isinstance(avg, int | float) and not isinstance(avg, bool) else DASH
    count = rating.get("count")
    return head + (f"（{num_text(count)}次）" if count is not None else "")


def weights_text(weights: Any) -> str:
    """"及时报到率 20、按期办结率 30、…（合计 100）"."""
    if not isinstance(weights, Mapping) or not weights:
        return DASH
    parts = [f"{WEIGHT_LABELS.get(k, k)} {num_text(v)}" for k, v in weights.items()]
    total = sum(v for v in weights.values() if isinstance(v, int | float) and not isinstance(v, bool))
    return "、".join(parts) + f"（合计 {num_text(total)}）"


def top_hotspots(data: Mapping[str, Any], n: int = 10) -> list[dict[str, Any]]:
    items = rows(data, "hotspots")
    return sorted(items, key=lambda h: -(h.get("count") or 0))[:n]


def kind_text(kind: Any) -> str:
    return TYPICAL_KINDS.get(kind, str(kind) if kind else DASH)


def level_text(case: Mapping[str, Any]) -> str:
    return str(case.get("level_label") or ALERT_LABELS.get(case.get("level"), case.get("level") or DASH))


def text(value: Any) -> str:
    """Free text for a cell: null → —."""
    return DASH if value is None or value == "" else str(value)
