"""The bulletin renderers (flows/reports): pure functions of the bulletin dict, no database."""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path

import pytest

from chuishao.flows.reports import render_all, render_html, render_pdf, render_xlsx
from chuishao.flows.reports.charts import render_charts
from chuishao.flows.reports.common import SECTION_TITLES
from chuishao.flows.reports.fonts import CJKFontMissing, cjk_font_path
from chuishao.models.vocabulary import ALERT_LABELS, SOURCE_LABELS

DEPARTMENTS = [
    ("ZRZY", "自然资源局"), ("STHJ", "生态环境局"), ("ZJJ", "住房和城乡建设局"), ("JTJ", "交通运输局"),
    ("SLJ", "水利局"), ("NYNC", "农业农村局"), ("SCJG", "市场监督管理局"), ("YJGL", "应急管理局"),
    ("WJJ", "卫生健康局"), ("GAJ", "公安局"), ("ZHZF", "综合行政执法局"), ("WLJ", "文化和旅游局"),
]
TOWNSHIPS = [
    ("FC", "凤城镇"), ("KZ", "开栅镇"), ("NZ", "南庄镇"), ("NA", "南安镇"),
    ("LHL", "刘胡兰镇"), ("XQ", "下曲镇"), ("XY", "孝义镇"), ("NWX", "南武乡"),
]
HOTSPOTS = [
    ("ENV01", "秸秆焚烧", "环境/秸秆焚烧"), ("CG03", "占道经营", "市容/占道经营"),
    ("ZJ02", "违法建设", "规划/违法建设"), ("ENV04", "垃圾乱堆乱放", "环境/垃圾"),
    ("SL01", "河道垃圾", "水务/河道"), ("JT05", "道路破损", "交通/道路设施"),
    ("ZR02", "非法占用耕地", "国土/耕地保护"), ("SC07", "无证经营", "市场/经营秩序"),
    ("YJ01", "燃气安全隐患", "安全/燃气"), ("ENV09", "噪声扰民", "环境/噪声"),
    ("WJ03", "犬只扰民", "卫生/动物"), ("JT08", "货车超限", "交通/治超"),
]
SOURCES = [(k, SOURCE_LABELS[k]) for k in ("grid", "hotline", "open311", "township")] + [
    ("media", "媒体曝光")]  # a source the renderers have no label for
T = "T09:00:00+08:00"
SHEETS = ("总体情况", "来源", "热点事项", "乡镇", "部门", "部门考核", "红黑榜", "超期督办", "典型案例", "口径说明")


def _rate(num: int, den: int) -> dict:
    return {"num": num, "den": den, "rate": round(num / den, 3) if den else None}


def sample_bulletin(n_departments: int = 12, n_townships: int = 8, seed: int = 7) -> dict:
    """A realistic bulletin following flows/reports/SCHEMA.md (deterministic for a seed)."""
    rnd = random.Random(seed)
    depts = list(DEPARTMENTS) + [(f"D{i:03d}", f"县直第{i}部门") for i in range(len(DEPARTMENTS), n_departments)]
    depts = depts[:n_departments]
    towns = list(TOWNSHIPS) + [(f"T{i:03d}", f"第{i}乡镇") for i in range(len(TOWNSHIPS), n_townships)]
    towns = towns[:n_townships]

    weights = {"check_in": 20, "on_time": 30, "closure": 20, "returns": 10, "rework": 10, "satisfaction": 5,
               "rating": 5}

    def part(den: int, quality: float) -> dict:
        return _rate(min(den, max(0, round(den * min(1.0, quality + rnd.uniform(-0.08, 0.08))))), den)

    scorecard = []
    for i, (code, name) in enumerate(depts):
        q = rnd.uniform(0.45, 0.99)  # how well this department works
        whistles = rnd.randint(8, 60)
        finished = rnd.randint(whistles // 2, whistles)
        verif = rnd.randint(finished // 2, finished)
        ratings = 0 if i == 5 else verif
        d = {
            "code": code, "name": name, "whistles": whistles,
            "check_in": part(whistles - rnd.randint(0, 3), q + 0.1),
            "on_time": part(finished, q),
            "closure": part(0 if i == 3 else rnd.randint(finished, whistles), q + 0.05),  # nothing fell due
            "returns": part(whistles, (1 - q) / 4),
            "rework": part(verif, (1 - q) / 3),
            "satisfaction": part(0 if i == 5 else verif, q + 0.05),  # no reporter answered
            "rating": {"avg": round(1 + 4 * min(1.0, q + rnd.uniform(-0.1, 0.1)), 1) if ratings else None,
                       "count": ratings},
        }

        def value(key: str, d: dict = d) -> float:
            r = d[key]["rate"]
            return 0.8 if r is None else (1 - r if key in ("returns", "rework") else r)

        d["score"] = round(sum(weights[k] * value(k) for k in weights if k != "rating")
                           + weights["rating"] * ((d["rating"]["avg"] or 4) / 5), 1)
        scorecard.append(d)
    scorecard.sort(key=lambda d: -d["score"])
    for rank, d in enumerate(scorecard, 1):
        d["rank"] = rank

    by_department = [{
        "code": d["code"], "name": d["name"], "whistles": d["whistles"], "closed": d["closure"]["num"],
        "open": d["whistles"] - d["closure"]["num"], "overdue": d["on_time"]["den"] - d["on_time"]["num"],
        "on_time": d["on_time"],
    } for d in scorecard]

    by_township = []
    for code, name in towns:
        received = rnd.randint(20, 90)
        closed = rnd.randint(received // 2, received)
        den = rnd.randint(closed // 2, closed)
        by_township.append({"code": code, "name": name, "received": received, "closed": closed,
                            "open": received - closed, "overdue": rnd.randint(0, 6),
                            "on_time": _rate(rnd.randint(den // 2, den), den)})
    by_township[-1]["on_time"] = _rate(0, 0)  # a township whose on-time figure has no denominator

    received = sum(t["received"] for t in by_township)
    counts = [rnd.randint(1, 10) for _ in SOURCES]
    counts[0] += 30
    shares = [c * received // sum(counts) for c in counts]
    shares[0] += received - sum(shares)
    by_source = [{"source": s, "label": label, "count": c, "share": round(c / received, 3)}
                 for (s, label), c in zip(SOURCES, shares, strict=True)]
    hotspots = sorted(
        ({"code": c, "name": n, "category": cat, "count": rnd.randint(3, 60), "previous": rnd.randint(0, 40)}
         for c, n, cat in HOTSPOTS), key=lambda h: -h["count"])

    def listed(d: dict, reason: str) -> dict:
        return {"code": d["code"], "name": d["name"], "score": d["score"], "rank": d["rank"], "reason": reason}

    red = [listed(d, f"按期办结率 {d['on_time']['rate'] or 0:.0%}，及时报到率 {d['check_in']['rate'] or 0:.0%}，"
                     f"无超期件") for d in scorecard[:3]]
    black = [listed(d, f"按期办结率 {d['on_time']['rate'] or 0:.0%}（全县 82%），超期未办结 "
                       f"{d['on_time']['den'] - d['on_time']['num']} 件，群众反映“多次催办无人回应”")
             for d in scorecard[-3:]]

    overdue_cases = []
    for k in range(1, 9):
        t_code, t_name = towns[k % len(towns)]
        d = scorecard[-1 - k % 4]
        level = ["overdue", "escalated", "overdue", "warning"][k % 4]
        overdue_cases.append({
            "id": 100 + k, "code": f"CS202611{k:02d}{k:06d}",
            "title": f"{t_name}{['东街', '西村', '南关', '北环路'][k % 4]}{HOTSPOTS[k][1]}问题反映，"
                     f"现场核实后需协调多个部门联合处置，群众多次来电催促",
            "township": t_name, "unit": d["name"], "level": level,
            "level_label": ALERT_LABELS[level],
            "deadline": f"2026-11-{10 + k:02d}T17:30:00+08:00",
        })
    supervised_cases = [
        {"id": 201, "code": "CS20261105000201", "title": "凤城镇滨河路违法建设久拖未决",
         "note": "县级督办：请自然资源局会同凤城镇于11月20日前拆除到位并报送结果", "at": "2026-11-12" + T},
        {"id": 202, "code": "CS20261118000202", "title": "南安镇化工厂夜间偷排",
         "note": "县级督办：生态环境局立即组织执法检查，依法查处", "at": "2026-11-19T15:20:00+08:00"},
    ]
    typical_cases = [
        {"id": 301, "code": "CS20261102000301", "title": "刘胡兰镇秸秆焚烧联合处置", "kind": "good",
         "reason": "吹哨后农业农村局、生态环境局2小时内到场，当日处置完毕，群众满意"},
        {"id": 302, "code": "CS20261109000302", "title": "下曲镇燃气管道隐患整改", "kind": "good",
         "reason": "应急管理局接哨即报到，联合燃气公司连夜排查更换管道"},
        {"id": 303, "code": "CS20261115000303", "title": "开栅镇河道垃圾反复出现", "kind": "bad",
         "reason": "水利局两次退回、核查未通过返工，超期9个工作日，已约谈分管负责人"},
    ]
    definitions = [
        {"term": "新增事件", "definition": "统计周期内上报（含网格上报、热线转办、平台接入）的事件数，合并重复件后计"},
        {"term": "接哨数", "definition": "统计周期内乡镇向该部门吹哨（主办、协办各计一次）的次数"},
        {"term": "及时报到率", "definition": "按时报到的接哨数 ÷ 当月到期的接哨数"},
        {"term": "按期办结率", "definition": "按期完成的办理时钟数 ÷ 当月完成的办理时钟数（挂起时间不计）"},
        {"term": "办结率", "definition": "已结案件数 ÷ 办理时限落在当月的接哨数"},
        {"term": "退回率", "definition": "退回次数 ÷ 接哨数"},
        {"term": "返工率", "definition": "核查未通过次数 ÷ 核查总次数"},
        {"term": "满意率", "definition": "报告人回答“满意”的次数 ÷ 有回答的核查次数"},
        {"term": "一哨一考核", "definition": "乡镇在核查时对部门每一哨的评分（1–5分）的平均分"},
        {"term": "综合得分", "definition": "各项指标按权重加权，满分100分；分母为0的指标按全县平均计"},
    ]
    prev_received = received - rnd.randint(-30, 60)
    overview = [
        {"key": "received", "label": "新增事件", "value": received, "previous": prev_received,
         "change": round((received - prev_received) / prev_received, 3)},
        {"key": "dispatched", "label": "吹哨派遣", "value": sum(d["whistles"] for d in scorecard), "previous": 301,
         "change": round(sum(d["whistles"] for d in scorecard) / 301 - 1, 3)},
        {"key": "closed", "label": "办结事件", "value": sum(t["closed"] for t in by_township), "previous": 290,
         "change": round(sum(t["closed"] for t in by_township) / 290 - 1, 3)},
        {"key": "overdue", "label": "超期事件", "value": 17, "previous": 21, "change": round(17 / 21 - 1, 3)},
        {"key": "disputed", "label": "争议裁定", "value": 3, "previous": 0, "change": None},
        {"key": "suspended", "label": "挂起事件", "value": 2, "previous": 2, "change": 0.0},
        {"key": "on_time_rate", "label": "按期办结率", "value": _rate(260, 301), "previous": _rate(231, 290),
         "change": None},
    ]
    return {
        "month": "2026-11",
        "county": "文水县",
        "title": "文水县“乡镇吹哨、部门报到”工作月度通报（2026年11月）",
        "generated_at": "2026-12-01T09:00:00+08:00",
        "period": {"start": "2026-11-01T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00"},
        "overview": overview,
        "by_source": by_source,
        "hotspots": hotspots,
        "by_township": by_township,
        "by_department": by_department,
        "scorecard": scorecard,
        "weights": weights,
        "red_list": red,
        "black_list": black,
        "overdue_cases": overdue_cases,
        "supervised_cases": supervised_cases,
        "typical_cases": typical_cases,
        "definitions": definitions,
    }


# -- fixtures ------------------------------------------------------------------------------------------------

EMPTY = {"month": "2026-11", "county": "文水县", "title": "文水县月度通报（无数据）",
         "generated_at": "2026-12-01T09:00:00+08:00",
         "period": {"start": "2026-11-01T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00"}}


@pytest.fixture(scope="module")
def sample() -> dict:
    return sample_bulletin()


@pytest.fixture(scope="module")
def rendered(sample, tmp_path_factory) -> dict[str, Path]:
    return render_all(sample, tmp_path_factory.mktemp("bulletin"))


@pytest.fixture(scope="module")
def pdf_text(rendered) -> list[str]:
    import pypdf

    return [page.extract_text() for page in pypdf.PdfReader(rendered["pdf"]).pages]


def _squash(s: str) -> str:
    """Extracted text without the line breaks a wrapped table cell puts inside a name."""
    return re.sub(r"\s+", "", s)


# -- render_all ----------------------------------------------------------------------------------------------

def test_render_all_writes_every_format(sample, rendered):
    out = rendered["json"].parent
    assert {p.name for p in out.iterdir()} >= {"bulletin.json", "bulletin.html", "bulletin.pdf", "bulletin.xlsx",
                                               "charts"}
    assert json.loads(rendered["json"].read_text("utf-8")) == sample
    assert "自然资源局" in rendered["json"].read_text("utf-8")  # Chinese kept readable, not \\u escapes
    assert rendered["pdf"].read_bytes().startswith(b"%PDF-")
    assert rendered["xlsx"].read_bytes().startswith(b"PK")
    charts = sorted(p.name for p in (out / "charts").iterdir())
    assert charts == ["hotspots.png", "scorecard.png", "sources.png", "townships.png"]
    assert not [p for p in out.rglob("*.tmp")]


# -- PDF -------------------------------------------------------------------------------------------------------

def test_pdf_shows_the_sections_and_every_department(sample, pdf_text):
    text = _squash("".join(pdf_text))
    for heading in SECTION_TITLES + ("部门考核排名", "红榜", "黑榜", "口径说明", "超期案件", "督办案件", "热点事项"):
        assert _squash(heading) in text, heading
    assert _squash(sample["title"]) in text
    for dept in sample["scorecard"]:
        assert dept["name"] in text, dept["name"]
    for town in sample["by_township"]:
        assert town["name"] in text
    for d in sample["definitions"]:
        assert _squash(d["term"]) in text


def test_pdf_shows_rates_with_their_denominators(sample, pdf_text):
    text = _squash("".join(pdf_text))
    first = sample["scorecard"][0]
    for key in ("check_in", "on_time", "closure"):
        r = first[key]
        if r["rate"] is not None:
            assert f"{r['rate'] * 100:.1f}%（{r['num']}/{r['den']}）" in text
    assert "—（0/0）" in text  # a rate without a denominator
    assert "权重" in text and "按期办结率30" in text


def test_pdf_page_numbers_and_a4(rendered, pdf_text):
    import pypdf

    reader = pypdf.PdfReader(rendered["pdf"])
    assert len(reader.pages) >= 3
    for i, page in enumerate(reader.pages, 1):
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(w - 595.3) < 1 and abs(h - 841.9) < 1  # A4 portrait
        assert f"第 {i} 页" in pdf_text[i - 1] or f"第{i}页" in _squash(pdf_text[i - 1])


def test_pdf_embeds_the_cjk_font(rendered):
    import pypdf

    reader = pypdf.PdfReader(rendered["pdf"])
    fonts = {}
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            fonts[str(font["/BaseFont"])] = font
    assert fonts and all("WenQuanYi" in name for name in fonts), fonts.keys()
    for font in fonts.values():  # embedded (a font file in the PDF), not just named
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor
    assert reader.metadata.title == sample_bulletin()["title"]


def test_pdf_has_the_charts_as_images(rendered):
    import pypdf

    images = [img for page in pypdf.PdfReader(rendered["pdf"]).pages for img in page.images]
    assert len(images) == 4


def test_pdf_is_the_same_when_rerendered(sample, rendered):
    charts = {name[len("chart_"):]: path for name, path in rendered.items() if name.startswith("chart_")}
    assert render_pdf(sample, charts) == render_pdf(sample, charts) == rendered["pdf"].read_bytes()


# -- XLSX ------------------------------------------------------------------------------------------------------

def test_xlsx_scorecard_has_the_same_figures(sample, rendered):
    import openpyxl

    wb = openpyxl.load_workbook(rendered["xlsx"])
    for name in SHEETS:
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert all(cell.font.bold for cell in ws[1]), name
        assert all(ws.column_dimensions[col].width >= 8 for col in "AB"), name
    ws = wb["部门考核"]
    header = [cell.value for cell in ws[1]]
    rows = {r[header.index("部门编码")]: dict(zip(header, r, strict=True))
            for r in ws.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == len(sample["scorecard"]) == 12
    for d in sample["scorecard"]:
        row = rows[d["code"]]
        assert row["部门"] == d["name"] and row["排名"] == d["rank"] and row["综合得分"] == d["score"]
        assert row["接哨数"] == d["whistles"]
        for key, label in (("check_in", "及时报到率"), ("on_time", "按期办结率"), ("closure", "办结率"),
                           ("returns", "退回率"), ("rework", "返工率"), ("satisfaction", "满意率")):
            assert row[label] == d[key]["rate"], (d["code"], key)
            assert row[f"{label}分子"] == d[key]["num"]
            assert row[f"{label}分母"] == d[key]["den"]
        assert row["一哨一考核平均分"] == d["rating"]["avg"] and row["一哨一考核评价次数"] == d["rating"]["count"]
    rate_col = header.index("按期办结率") + 1
    assert ws.cell(2, rate_col).number_format == "0.0%"
    assert rows[sample["red_list"][0]["code"]]["榜单"] == "红榜"
    assert rows[sample["black_list"][-1]["code"]]["榜单"] == "黑榜"


def test_xlsx_other_sheets_match_the_json(sample, rendered):
    import openpyxl

    wb = openpyxl.load_workbook(rendered["xlsx"])
    towns = list(wb["乡镇"].iter_rows(min_row=2, values_only=True))
    assert [(t[1], t[2], t[6], t[7], t[8]) for t in towns] == [
        (t["name"], t["received"], t["on_time"]["rate"], t["on_time"]["num"], t["on_time"]["den"])
        for t in sample["by_township"]]
    assert towns[-1][6] is None  # a null rate stays empty, not 0
    overview = {r[0]: r for r in wb["总体情况"].iter_rows(min_row=2, values_only=True)}
    assert overview["received"][2] == sample["overview"][0]["value"]
    assert overview["received"][4] == sample["overview"][0]["change"]
    cases = len(sample["overdue_cases"]) + len(sample["supervised_cases"])
    assert len(list(wb["超期督办"].iter_rows(min_row=2))) == cases
    assert [r[0] for r in wb["口径说明"].iter_rows(min_row=2, values_only=True)] == [
        d["term"] for d in sample["definitions"]]
    assert wb["通报信息"]["B2"].value == sample["title"]


# -- charts ----------------------------------------------------------------------------------------------------

def _assert_real_png(path: Path) -> None:
    import matplotlib.image

    assert path.stat().st_size > 2000, path
    pixels = matplotlib.image.imread(str(path))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 500
    flat = pixels.reshape(-1, pixels.shape[-1])
    assert (flat != flat[0]).any(), f"{path} is one colour"


def test_charts_are_real_images(rendered):
    for name in ("sources", "hotspots", "townships", "scorecard"):
        _assert_real_png(rendered[f"chart_{name}"])


def test_charts_without_data_still_say_so(tmp_path):
    paths = render_charts(EMPTY, tmp_path)
    assert set(paths) == {"sources", "hotspots", "townships", "scorecard"}
    for path in paths.values():
        _assert_real_png(path)


# -- HTML ------------------------------------------------------------------------------------------------------

def test_html_has_every_section_and_null_rates_as_dash(sample, rendered):
    html = rendered["html"].read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in html
    for heading in SECTION_TITLES:
        assert f">{heading}</h2>" in html, heading
    for sub in ("（一）按来源", "（二）热点事项（前10）", "（三）按乡镇", "（四）按部门", "红榜", "黑榜"):
        assert sub in html
    for dept in sample["scorecard"]:
        assert dept["name"] in html
    assert "—<span" in html and "（0/0）" in html  # null rate: a dash, with its 0/0
    assert "↑" in html and "↓" in html  # month-on-month change
    assert "@page" in html and "size: A4" in html
    assert html.count('src="data:image/png;base64,') == 4  # self-contained
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no CDN, nothing fetched


def test_html_escapes_text(sample):
    data = dict(sample, title='<script>alert("x")</script>通报')
    data["typical_cases"] = [dict(sample["typical_cases"][0], reason="<b>加粗</b> & <img src=x onerror=alert(1)>")]
    html = render_html(data, {"sources": "charts/sources.png"})
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<img src="charts/sources.png"' in html  # charts by the given relative URL
    assert "charts/hotspots.png" not in html  # and only those given
    embedded = render_html(sample)  # no URLs given: the charts are drawn and embedded
    assert embedded.count('src="data:image/png;base64,') == 4


def test_hostile_text_in_pdf_and_xlsx(sample):
    import openpyxl
    import pypdf

    data = dict(sample, title="<script>通报</script> & <b>")
    data["scorecard"] = [dict(sample["scorecard"][0], name="水务&<河道>局")] + sample["scorecard"][1:]
    text = _squash("".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(data))).pages))
    assert "<script>通报</script>&<b>" in text and "水务&<河道>局" in text
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(data)))
    assert wb["部门考核"]["C2"].value == "水务&<河道>局"


# -- empty month -----------------------------------------------------------------------------------------------

def test_an_empty_month_renders_everywhere(tmp_path):
    import openpyxl
    import pypdf

    paths = render_all(EMPTY, tmp_path)
    html = paths["html"].read_text("utf-8")
    assert html.count("本月无数据") >= 10
    text = "".join(p.extract_text() for p in pypdf.PdfReader(paths["pdf"]).pages)
    assert "本月无数据" in text and "口径说明" in text
    wb = openpyxl.load_workbook(paths["xlsx"])
    assert wb["部门考核"].max_row == 1


# -- formatting and font ---------------------------------------------------------------------------------------

def test_formatting():
    from chuishao.flows.reports import common

    assert common.rate_text({"num": 28, "den": 30, "rate": 0.933}) == "93.3%（28/30）"
    assert common.rate_text({"num": 0, "den": 0, "rate": None}) == "—（0/0）"
    assert common.rate_text(None) == "—"
    assert common.change_text(0.084) == "↑8.4%" and common.change_text(-0.05) == "↓5.0%"
    assert common.change_text(None) == "—" and common.change_text(0) == "持平"
    assert common.period_text({"start": "2026-11-01T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00"}) \
        == "2026年11月1日至2026年11月30日"
    assert common.dt_text("2026-11-03T17:30:00+08:00") == "2026-11-03 17:30"


def test_cjk_font_path_and_its_errors(monkeypatch, tmp_path):
    from chuishao.flows.reports import fonts

    monkeypatch.delenv(fonts.ENV_VAR, raising=False)
    path = cjk_font_path()
    assert path.is_file() and path.suffix in (".ttc", ".ttf", ".otf")
    monkeypatch.setenv(fonts.ENV_VAR, str(path))
    assert cjk_font_path() == path
    monkeypatch.setenv(fonts.ENV_VAR, str(tmp_path / "missing.ttf"))
    with pytest.raises(CJKFontMissing, match="fonts-wqy-microhei") as err:
        cjk_font_path()
    assert "CHUISHAO_CJK_FONT" in str(err.value) and "中文字体" in str(err.value)
    monkeypatch.delenv(fonts.ENV_VAR)
    monkeypatch.setattr(fonts, "DEFAULT_PATHS", (tmp_path / "nowhere.ttc",))
    with pytest.raises(CJKFontMissing, match="apt-get install -y fonts-wqy-microhei") as err:
        cjk_font_path()
    assert "未找到中文字体" in str(err.value) and "not found" in str(err.value)


def test_pdf_never_starts_a_line_with_closing_punctuation(pdf_text):
    lines = [line.strip() for page in pdf_text for line in page.splitlines() if line.strip()]
    assert len(lines) > 100
    assert not [line for line in lines if line[0] in "，。、；：）”"], "Chinese line breaking rule broken"


# -- a big county ------------------------------------------------------------------------------------------------

def test_a_big_county_pages_its_tables_and_caps_the_case_lists(tmp_path):
    import openpyxl
    import pypdf

    from chuishao.flows.reports.layout import MAX_CASE_ROWS

    data = sample_bulletin(n_departments=100, n_townships=100)
    base = data["overdue_cases"]
    data["overdue_cases"] = [dict(base[i % len(base)], id=1000 + i, code=f"CS20261101{i:06d}")
                             for i in range(MAX_CASE_ROWS + 100)]
    paths = render_all(data, tmp_path)
    pages = [p.extract_text() for p in pypdf.PdfReader(paths["pdf"]).pages]
    text = _squash("".join(pages))
    for town in data["by_township"]:
        assert town["name"] in text
    for dept in data["scorecard"]:
        assert dept["name"] in text
    # the township table runs over several pages, each with its header row
    assert sum("乡镇（街道）" in page for page in pages) >= 3
    # the printed list stops at MAX_CASE_ROWS and says so; the workbook has every case
    listed = [c["code"] for c in data["overdue_cases"]]
    assert listed[MAX_CASE_ROWS - 1] in text and listed[MAX_CASE_ROWS] not in text
    assert f"共{MAX_CASE_ROWS + 100}件，列出前{MAX_CASE_ROWS}件" in text
    assert f"共 {MAX_CASE_ROWS + 100} 件，列出前 {MAX_CASE_ROWS} 件" in paths["html"].read_text("utf-8")
    ws = openpyxl.load_workbook(paths["xlsx"], read_only=True)["超期督办"]
    assert sum(1 for row in ws.iter_rows(min_row=2, values_only=True) if row[0] == "超期") == MAX_CASE_ROWS + 100


def test_xlsx_keeps_text_as_text(sample):
    import openpyxl

    data = dict(sample)
    data["typical_cases"] = [dict(sample["typical_cases"][0], title='=HYPERLINK("http://evil","点我")',
                                  reason="响铃\x07字符\x00被去掉\ud800")]
    ws = openpyxl.load_workbook(io.BytesIO(render_xlsx(data)))["典型案例"]
    assert ws["D2"].value == '=HYPERLINK("http://evil","点我")' and ws["D2"].data_type == "s"
    assert ws["E2"].value == "响铃字符被去掉\ufffd"  # control characters dropped, half a surrogate pair replaced
