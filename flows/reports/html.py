"""The bulletin as one self-contained HTML page (inline CSS, no CDN), laid out for printing on A4."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from chuishao.flows.reports import common
from chuishao.flows.reports.layout import build

CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
  @bottom-center { content: "第 " counter(page) " 页"; font-size: 9pt; color: #555; } }
* { box-sizing: border-box; }
html { background: #e9e9e9; }
body { margin: 0; color: #1a1a1a; line-height: 1.6; font-size: 14px;
  font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
    "Hiragino Sans GB", sans-serif; }
.page { width: 210mm; max-width: 100%; margin: 16px auto; padding: 16mm 14mm; background: #fff;
  box-shadow: 0 1px 6px rgba(0,0,0,.2); }
header { text-align: center; margin-bottom: 6mm; }
.masthead { color: #c00000; font-size: 26px; font-weight: bold; letter-spacing: 0.3em; margin: 0 0 4px; }
h1 { font-size: 21px; line-height: 1.45; margin: 10px 0 6px; }
.meta { color: #444; font-size: 13px; margin: 0; }
.rule { border: 0; border-top: 2px solid #c00000; margin: 10px 0 0; }
.notice { border: 2px solid #c00000; color: #c00000; font-weight: bold; padding: 6px 10px; margin: 10px 0 0;
  text-align: left; }
h2 { font-size: 17px; margin: 22px 0 8px; padding-bottom: 3px; border-bottom: 1px solid #c9c9c9; }
h3 { font-size: 15px; margin: 14px 0 6px; }
h2, h3 { break-after: avoid; page-break-after: avoid; }
p.lead { text-indent: 2em; margin: 4px 0 8px; }
p.note { font-size: 12px; color: #444; margin: 6px 0 10px; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; font-size: 12px; margin: 4px 0 10px; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 1px solid #8c8c8c; padding: 3px 5px; vertical-align: middle; overflow-wrap: anywhere; }
th { background: #eef1f6; font-weight: bold; text-align: center; }
td.right { text-align: right; font-variant-numeric: tabular-nums; }
td.center { text-align: center; }
td.right .frac { display: inline-block; white-space: nowrap; font-size: 0.9em; color: #555; }
td.empty { text-align: center; color: #777; padding: 8px; }
tr.red td { background: #fdeceb; }
tr.black td { background: #e4e4e4; }
.tone-red { color: #c00000; }
.tone-amber { color: #b35f00; }
.tone-green { color: #2e7d32; }
table.scorecard { font-size: 11px; }
table.scorecard th { font-size: 11px; padding: 3px 2px; }
table.scorecard td { padding: 3px 3px; }
figure.chart { margin: 6px 0 14px; text-align: center; break-inside: avoid; page-break-inside: avoid; }
figure.chart img { width: auto; height: auto; max-width: min(100%, 165mm); max-height: 120mm; }
figure.chart.scorecard img, figure.chart.townships img { max-height: 235mm; }
figure.chart figcaption { font-size: 12px; color: #555; }
footer { margin-top: 10mm; font-size: 12px; color: #666; text-align: right; }
@media print {
  html { background: none; }
  body { font-size: 10.5pt; }
  .page { width: auto; margin: 0; padding: 0; box-shadow: none; }
  h2 { font-size: 14pt; }
  h3 { font-size: 12pt; }
  table { font-size: 9pt; }
  table.scorecard, table.scorecard th { font-size: 8pt; }
}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="chuishao">
<title>{{ title }}</title>
<style>{{ css | safe }}</style>
</head>
<body>
<main class="page">
<header>
<p class="masthead">吹哨报到工作通报</p>
<h1>{{ title }}</h1>
<p class="meta">统计周期：{{ period }}　　生成时间：{{ generated }}</p>
<hr class="rule">
{%- for n in notices %}
<p class="notice" role="note">{{ n }}</p>
{%- endfor %}
</header>
{%- for b in blocks %}
{%- if b.kind == "h2" %}
<h2 id="s{{ loop.index }}">{{ b.text }}</h2>
{%- elif b.kind == "h3" %}
<h3>{{ b.text }}</h3>
{%- elif b.kind == "p" %}
<p class="lead">{{ b.text }}</p>
{%- elif b.kind == "note" %}
<p class="note">{{ b.text }}</p>
{%- elif b.kind == "chart" %}
{%- if charts.get(b.chart) %}
<figure class="chart {{ b.chart }}">
<img src="{{ charts[b.chart] }}" alt="{{ chart_titles.get(b.chart, b.chart) }}"></figure>
{%- endif %}
{%- elif b.kind == "table" %}
{%- set t = b.table %}
<table class="{{ t.name }}">
<colgroup>{% for w in t.widths %}<col style="width:{{ '%.1f' % (w * 100) }}%">{% endfor %}</colgroup>
<thead><tr>{% for h in t.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for row in t.rows %}
<tr{% if t.row_tones and t.row_tones[loop.index0] %} class="{{ t.row_tones[loop.index0] }}"{% endif %}>
{%- for c in row -%}
<td class="{{ c.align }}{% if c.tone %} tone-{{ c.tone }}{% endif %}">
{%- if c.sub %}{{ c.main }}<span class="frac">{{ c.sub }}</span>{% else %}{{ c.text }}{% endif -%}
</td>
{%- endfor -%}
</tr>
{%- else %}
<tr><td class="empty" colspan="{{ t.headers | length }}">{{ t.empty }}</td></tr>
{%- endfor %}
</tbody>
</table>
{%- endif %}
{%- endfor %}
<footer>本通报由“吹哨”系统根据业务数据自动生成，各项数据口径见“附：口径说明”。</footer>
</main>
</body>
</html>
"""


@lru_cache(maxsize=1)
def _template():
    from jinja2 import Environment

    env = Environment(autoescape=True, trim_blocks=False, lstrip_blocks=False)
    return env.from_string(TEMPLATE)


def _embedded_charts(data: Mapping[str, Any]) -> dict[str, str]:
    from chuishao.flows.reports.charts import chart_images

    return {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            for name, png in chart_images(data).items()}


def render_html(data: Mapping[str, Any], charts: Mapping[str, str] | None = None) -> str:
    """The complete HTML page. ``charts`` maps a chart name to the URL the page should use for it (relative
    to where the page is served, or a data URI); ``None`` draws the charts and embeds them as data URIs."""
    from chuishao.flows.reports.charts import CHART_TITLES

    if charts is None:
        charts = _embedded_charts(data)
    return _template().render(
        title=common.title_of(data),
        period=common.period_text(data.get("period")),
        generated=common.generated_text(data),
        notices=common.notices(data),
        blocks=build(data),
        charts=dict(charts),
        chart_titles=CHART_TITLES,
        css=CSS,
    )
