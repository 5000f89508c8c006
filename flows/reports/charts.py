"""PNG charts of a bulletin, drawn with matplotlib's Agg canvas and the CJK font (no pyplot, no display)."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chuishao.flows.reports import common
from chuishao.flows.reports.fonts import mpl_font_family
from chuishao.flows.rounding import half_up_text

WIDTH_IN = 7.5
DPI = 150
MAX_BARS = 30  # beyond this a horizontal bar chart keeps its head (and tail) and says what it left out

BLUE = "#2f5597"
LIGHT = "#b4c7e7"
RED = "#c00000"
DARK = "#404040"
GREY = "#a6a6a6"

CHART_TITLES: dict[str, str] = {
    "sources": "按来源统计",
    "hotspots": "热点事项前10（本月与上月）",
    "townships": "各乡镇新增与办结事件",
    "scorecard": "部门综合得分排名",
}

# matplotlib's rcParams are process-global: draw one chart at a time.
_draw_lock = threading.Lock()


def _short(label: Any, limit: int = 12) -> str:
    s = common.text(label)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _figure(height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def _no_data(title: str) -> bytes:
    fig = _figure(2.4)
    fig.suptitle(title, fontsize=13, y=0.93)
    ax = fig.add_axes((0.05, 0.08, 0.9, 0.7))
    ax.set_axis_off()
    ax.add_patch(_dashed_box())
    ax.text(0.5, 0.5, common.NO_DATA, ha="center", va="center", fontsize=16, color=DARK)
    return _png(fig)


def _dashed_box():
    from matplotlib.patches import Rectangle

    return Rectangle((0.02, 0.05), 0.96, 0.9, fill=True, facecolor="#f2f2f2", edgecolor=GREY, linestyle="--")


def _hbar_height(n: int, groups: int = 1) -> float:
    per_row = (0.42 if n <= 12 else 0.32) if groups > 1 else (0.34 if n <= 12 else 0.21)
    return max(2.6, per_row * n + 1.3)


def _layout(fig) -> None:
    """Tight layout below the suptitle, which takes about half an inch whatever the height."""
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))


def _style_axes(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0, labelsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#e0e0e0", linewidth=0.6)
    ax.set_axisbelow(True)


def _annotate(ax, bars, labels: list[str], pad: float) -> None:
    for bar, label in zip(bars, labels, strict=True):
        ax.text(bar.get_width() + pad, bar.get_y() + bar.get_height() / 2, label, va="center", fontsize=7.5,
                color=DARK)


def _sources(data: Mapping[str, Any]) -> bytes:
    title = CHART_TITLES["sources"]
    items = [s for s in common.rows(data, "by_source") if isinstance(s.get("count"), int | float) and s["count"] > 0]
    if not items:
        return _no_data(title)
    items.sort(key=lambda s: -s["count"])
    total = sum(s["count"] for s in items)
    palette = [BLUE, "#ed7d31", "#70ad47", "#ffc000", "#5b9bd5", "#a5a5a5", "#9e480e", "#264478", "#636363"]
    colors = [palette[i % len(palette)] for i in range(len(items))]
    fig = _figure(3.4)
    fig.suptitle(title, fontsize=13, y=0.96)
    ax = fig.add_axes((0.02, 0.04, 0.48, 0.82))
    wedges, _texts, autotexts = ax.pie(
        [s["count"] for s in items], colors=colors, startangle=90, counterclock=False,
        autopct=lambda p: f"{half_up_text(p, 1)}%" if p >= 6 else "", pctdistance=0.74,
        wedgeprops={"width": 0.5, "edgecolor": "white", "linewidth": 1},
    )
    for t in autotexts:
        t.set_color("white")
        t.set_fontsize(8)
    ax.text(0, 0, f"合计\n{total}件", ha="center", va="center", fontsize=10, color=DARK)
    ax.set_aspect("equal")
    labels = [f"{_short(s.get('label') or s.get('source'), 10)}  "
              f"{common.num_text(s['count'])}件（{s['count'] / total:.1%}）" for s in items]
    fig.legend(wedges, labels, loc="center left", bbox_to_anchor=(0.52, 0.45), frameon=False, fontsize=11,
               handlelength=1.2)
    return _png(fig)


def _paired_bars(title: str, items: list, names: list[str], first: tuple[str, list, str],
                 second: tuple[str, list, str]) -> bytes:
    """Two horizontal bars per row (`first` above `second`, each (legend, counts, colour)), counts at the bar
    ends: this month's hotspots against last month's, each township's new cases against those closed."""
    n = len(items)
    fig = _figure(_hbar_height(n, 2))
    fig.suptitle(title, fontsize=13, y=1 - 0.12 / fig.get_figheight(), va="top")
    ax = fig.add_subplot()
    ys = list(range(n))
    h = 0.38
    (label1, one, colour1), (label2, two, colour2) = first, second
    b1 = ax.barh([y - h / 2 for y in ys], one, height=h, color=colour1, label=label1)
    b2 = ax.barh([y + h / 2 for y in ys], two, height=h, color=colour2, label=label2)
    pad = max(one + two + [1]) * 0.01
    _annotate(ax, b1, [common.num_text(v) for v in one], pad)
    _annotate(ax, b2, [common.num_text(v) for v in two], pad)
    ax.set_yticks(ys, [_short(name) for name in names])
    ax.invert_yaxis()
    ax.set_xlim(0, max(one + two + [1]) * 1.12)
    ax.set_xlabel("件数", fontsize=9)
    _style_axes(ax)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    _layout(fig)
    return _png(fig)


def _hotspots(data: Mapping[str, Any]) -> bytes:
    title = CHART_TITLES["hotspots"]
    items = common.top_hotspots(data, 10)
    if not items:
        return _no_data(title)
    return _paired_bars(title, items, [h.get("name") or h.get("code") for h in items],
                        ("本月", [h.get("count") or 0 for h in items], BLUE),
                        ("上月", [h.get("previous") or 0 for h in items], LIGHT))


def _townships(data: Mapping[str, Any]) -> bytes:
    title = CHART_TITLES["townships"]
    items = sorted(common.rows(data, "by_township"), key=lambda t: -(t.get("received") or 0))
    if not items:
        return _no_data(title)
    total = len(items)
    if total > MAX_BARS:
        items = items[:MAX_BARS]
        title += f"（新增最多的前{MAX_BARS}个，共{total}个）"
    return _paired_bars(title, items, [t.get("name") or t.get("code") for t in items],
                        ("新增", [t.get("received") or 0 for t in items], BLUE),
                        ("办结", [t.get("closed") or 0 for t in items], "#70ad47"))


def _scorecard(data: Mapping[str, Any]) -> bytes:
    title = CHART_TITLES["scorecard"]
    scored = [d for d in common.rows(data, "scorecard")
              if isinstance(d.get("score"), int | float) and not isinstance(d.get("score"), bool)]
    if not scored:
        return _no_data(title)
    scored.sort(key=lambda d: (-d["score"], d.get("rank") if isinstance(d.get("rank"), int) else 10**9))
    red = {r.get("code") for r in common.rows(data, "red_list")}
    black = {r.get("code") for r in common.rows(data, "black_list")}
    total = len(scored)
    gap = None
    if total > MAX_BARS:
        half = MAX_BARS // 2
        gap = total - 2 * half
        title += f"（共{total}个部门，列前{half}名和后{half}名）"
        scored = scored[:half] + [None] + scored[-half:]
    n = len(scored)
    fig = _figure(_hbar_height(n))
    fig.suptitle(title, fontsize=13, y=1 - 0.12 / fig.get_figheight(), va="top")
    ax = fig.add_subplot()
    ys = list(range(n))
    values = [d["score"] if d else 0 for d in scored]
    colors = [RED if d and d.get("code") in red else DARK if d and d.get("code") in black else BLUE for d in scored]
    bars = ax.barh(ys, values, height=0.62, color=colors)
    top = max(values + [1])
    _annotate(ax, bars, [common.score_text(d["score"]) if d else "" for d in scored], top * 0.01)
    labels = []
    for d in scored:
        if d is None:
            labels.append(f"……（略去{gap}个）")
        else:
            rank = d.get("rank")
            labels.append(f"{rank}. {_short(d.get('name') or d.get('code'))}" if rank is not None else
                          _short(d.get("name") or d.get("code")))
    ax.set_yticks(ys, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 108 if top <= 100 else top * 1.1)  # room for a full score's label at the bar's end
    ax.set_xticks([t for t in ax.get_xticks() if t <= max(100, top)])
    ax.set_xlabel("综合得分", fontsize=9)
    _style_axes(ax)
    from matplotlib.patches import Patch

    handles = [Patch(color=RED, label="红榜"), Patch(color=BLUE, label="其他"), Patch(color=DARK, label="黑榜")]
    # above the bars, in one row: inside the plot it covered the lowest bars' scores
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    _layout(fig)
    return _png(fig)


CHARTS: dict[str, Callable[[Mapping[str, Any]], bytes]] = {
    "sources": _sources,
    "hotspots": _hotspots,
    "townships": _townships,
    "scorecard": _scorecard,
}


def chart_images(data: Mapping[str, Any]) -> dict[str, bytes]:
    """Every chart as PNG bytes, by name (sources, hotspots, townships, scorecard)."""
    import matplotlib

    family = mpl_font_family()
    rc = {
        "font.family": "sans-serif",
        "font.sans-serif": [family, "DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.fonttype": "none",
    }
    with _draw_lock, matplotlib.rc_context(rc):
        return {name: draw(data) for name, draw in CHARTS.items()}


def render_charts(data: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write every chart as ``out_dir/<name>.png`` and return the paths by name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, png in chart_images(data).items():
        path = out_dir / f"{name}.png"
        tmp = path.with_suffix(f".png.{os.getpid()}.tmp")
        tmp.write_bytes(png)
        os.replace(tmp, path)
        paths[name] = path
    return paths
