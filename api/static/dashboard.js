// The live dashboard (/dashboard): ECharts charts over the figures of /dashboard/data.json, refreshed when a
// live event in the user's scope arrives (app.js fires `chuishao:event` on document.body).
// The page may come in by a full load or be swapped in by htmx (hx-boost), and may be left the same way:
// charts are made on arrival and disposed on departure, and the listeners below are added once per document.
(function () {
  "use strict";
  if (window.ChuishaoDashboard) {  // swapped in again: the script re-runs; the module is already here
    window.ChuishaoDashboard.init();
    return;
  }

  var COLORS = {
    open: "#1f5fbf", suspended: "#8c959f", closed: "#1a7f37",
    warning: "#e9a800", overdue: "#d92d20", escalated: "#6d28d9", awaiting: "#0e7490",
  };
  var ALERT_ICONS = { warning: "▲", overdue: "●", escalated: "⚑" };
  var REFRESH_DELAY = 1000;  // events come in bursts: one fetch per second at most
  var POLL = 5 * 60 * 1000;  // and now and then anyway, so "today" rolls over at midnight
  var NOTE = "本月完成的报到（办理）中，在时限内完成的件数 / 完成总数；挂起时间不计，延期以批准后的时限为准。";
  var cur = null;  // {root, charts, timer, poll, wait, busy, again}

  // ---- small helpers ----------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function pct(rate) { return rate == null ? "—" : (rate * 100).toFixed(1) + "%"; }
  function rankHeight(rows) { return rows ? Math.max(260, rows * 30 + 70) : 120; }
  function small() { return window.matchMedia("(max-width: 600px)").matches; }

  function table(caption, heads, rows) {
    var thead = el("thead", {}, [el("tr", {}, heads.map(function (h, i) {
      return el("th", { scope: "col", "class": i ? "num" : "", text: h });
    }))]);
    var body = rows.length ? rows.map(function (r) {
      return el("tr", {}, r.map(function (v, i) {
        if (i === 0) return el("th", { scope: "row" }, [v]);
        return el("td", { "class": "num", text: String(v) });
      }));
    }) : [el("tr", {}, [el("td", { colspan: String(heads.length), "class": "muted", text: "暂无数据" })])];
    return el("table", {}, [el("caption", { "class": "visually-hidden", text: caption }), thead, el("tbody", {}, body)]);
  }
  function badge(level, label) {
    return el("span", { "class": "badge alert-" + level }, [el("span", { "aria-hidden": "true", text: ALERT_ICONS[level] }), " " + label]);
  }
  function region(name, node) {
    var r = cur && cur.root.querySelector('[data-region="' + name + '"]');
    if (!r) return;
    r.textContent = "";
    (Array.isArray(node) ? node : [node]).forEach(function (n) { r.appendChild(n); });
  }
  function label(name, text) {
    var c = cur && cur.root.querySelector('[data-chart="' + name + '"]');
    if (c) c.setAttribute("aria-label", text);
  }

  // ---- text: numbers, tables, summaries (the same as api/templates/dashboard/_parts.html) --------
  function renderText(d) {
    var t = d.totals;
    Object.keys(t).forEach(function (k) {
      var n = cur.root.querySelector('[data-kpi="' + k + '"] .n');
      if (n && n.textContent !== String(t[k])) {
        n.textContent = String(t[k]);
        n.parentNode.classList.remove("dash-changed");
        void n.parentNode.offsetWidth;  // restart the highlight
        n.parentNode.classList.add("dash-changed");
      }
    });
    ["updated", "today_label"].forEach(function (k) {
      var f = cur.root.querySelector('[data-field="' + k + '"]');
      if (f) f.textContent = d[k];
    });

    label("steps", "各环节在办：" + d.by_step.map(function (s) {
      return "第" + s.step + "步" + s.name + " " + s.open + " 件" + (s.suspended ? "（另挂起 " + s.suspended + " 件）" : "") +
        (s.step === 6 ? "，今日结案 " + t.closed_today + " 件" : "");
    }).join("；"));
    var tags = d.by_status.filter(function (s) { return s.count; }).map(function (s) {
      return el("span", { "class": "tag state-" + s.status, text: s.label + " " + s.count });
    });
    var status = ["按状态："];
    if (tags.length) tags.forEach(function (g) { status.push(g, " "); });
    else status.push(el("span", { "class": "muted", text: "暂无在办案件" }));
    region("status", status.map(function (x) { return typeof x === "string" ? document.createTextNode(x) : x; }));
    region("steps-table", table("各环节在办案件数", ["环节", "在办", "挂起"],
      d.by_step.map(function (s) { return ["第" + s.step + "步 " + s.name, s.open, s.suspended]; })
        .concat([["今日结案", t.closed_today, "—"]])));

    label("alerts", "在办案件预警：" + d.alerts.map(function (a) { return a.label + " " + a.count + " 件"; }).join("，"));
    region("alerts-table", table("在办案件预警分布", ["预警", "案件数"],
      d.alerts.map(function (a) { return [badge(a.level, a.label), a.count]; })));

    label("townships", "乡镇排行：" + (d.by_township.map(function (r) {
      return r.name + " 在办 " + r.open + " 件、超期 " + r.overdue + " 件";
    }).join("；") || "暂无数据"));
    region("townships-table", table("各乡镇在办、超期和今日新增、办结", ["乡镇", "在办", "超期", "今日新增", "今日办结"],
      d.by_township.map(function (r) { return [r.name, r.open, r.overdue, r.new_today, r.closed_today]; })));

    label("departments", "部门排行：" + (d.by_department.map(function (r) {
      return r.name + " 主办在办 " + r.open + " 件、超期 " + r.overdue + " 件、待报到 " + r.awaiting_check_in + " 个哨令";
    }).join("；") || "暂无数据"));
    region("departments-table", table("各部门主办在办、超期和待报到哨令", ["部门", "主办在办", "超期", "待报到"],
      d.by_department.map(function (r) { return [r.name, r.open, r.overdue, r.awaiting_check_in]; })));

    var rates = ["check_in", "on_time"].map(function (k) { return d.rates[k]; });
    label("rates", "本月" + rates.map(function (r) { return r.label + " " + pct(r.rate) + "（" + r.num + "/" + r.den + "）"; }).join("，"));
    region("rates-text", [
      el("dl", { "class": "dash-rates" }, rates.map(function (r) {
        return el("div", {}, [el("dt", { text: r.label }), el("dd", {}, [
          el("strong", { text: r.num + "/" + r.den }), " ", el("span", { "class": "muted dash-pct", text: "（" + pct(r.rate) + "）" })])]);
      })),
      el("p", { "class": "muted small dash-note",
        text: NOTE }),
    ]);

    if (!d.latest.length) {
      region("latest", el("p", { "class": "empty", text: "暂无动态" }));
    } else {
      region("latest", el("ol", { "class": "dash-latest" }, d.latest.map(function (e) {
        var what = [el("strong", { text: ((e.unit_name || e.unit || "") + " " + e.label) })];
        if (e.from_state && e.to_label && e.to_state !== e.from_state) what.push(" → " + e.to_label);
        return el("li", {}, [el("a", { href: "/cases/" + e.case_id }, [
          el("span", { "class": "dash-when", text: e.when }),
          el("span", { "class": "dash-what" }, what),
          el("span", { "class": "dash-case", text: e.title }),
        ])]);
      })));
    }
  }

  // ---- charts ----------------------------------------------------------------------------------
  function base() {
    var s = small();
    return {
      animationDuration: 300, animationDurationUpdate: 300,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily, fontSize: s ? 11 : 12 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
      legend: { top: 0, itemWidth: 14, itemHeight: 10, textStyle: { fontSize: s ? 11 : 12 } },
      grid: { left: 8, right: 24, top: 40, bottom: 4, containLabel: true },
    };
  }
  function withBase(o) { var b = base(); Object.keys(o).forEach(function (k) { b[k] = o[k]; }); return b; }

  function stepsOption(d) {
    var cats = d.by_step.map(function (s) { return s.step + " " + s.name; });
    var last = d.by_step.length - 1;
    return withBase({
      xAxis: { type: "category", data: cats, axisLabel: { interval: 0, fontSize: small() ? 10 : 12,
        formatter: function (v) { return small() ? v.replace(" ", "\n") : v; } } },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "在办", type: "bar", stack: "n", itemStyle: { color: COLORS.open },
          data: d.by_step.map(function (s) { return s.open; }) },
        { name: "挂起", type: "bar", stack: "n", itemStyle: { color: COLORS.suspended },
          data: d.by_step.map(function (s) { return s.suspended; }) },
        { name: "今日结案", type: "bar", stack: "n", itemStyle: { color: COLORS.closed },
          label: { show: true, position: "top", formatter: function (p) {
            var s = d.by_step[p.dataIndex];
            var n = s.open + s.suspended + (p.dataIndex === last ? d.totals.closed_today : 0);
            return String(n);
          } },
          data: d.by_step.map(function (s, i) { return i === last ? d.totals.closed_today : 0; }) },
      ],
    });
  }

  function alertsOption(d) {
    return withBase({
      legend: { show: false },
      tooltip: { trigger: "item", confine: true },
      grid: { left: 8, right: 24, top: 24, bottom: 4, containLabel: true },
      xAxis: { type: "category", data: d.alerts.map(function (a) { return ALERT_ICONS[a.level] + " " + a.label; }),
        axisLabel: { fontSize: 13, fontWeight: "bold" } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: "案件数", type: "bar", barMaxWidth: 56,
        label: { show: true, position: "top", fontWeight: "bold", formatter: "{c} 件" },
        data: d.alerts.map(function (a) { return { value: a.count, itemStyle: { color: COLORS[a.level] } }; }) }],
    });
  }

  function rankOption(rows, series) {
    if (!rows.length) {
      return { title: { text: "暂无数据", left: "center", top: "middle",
        textStyle: { color: "#57606a", fontSize: 14, fontWeight: "normal" } } };
    }
    var ordered = rows.slice().reverse();  // ECharts draws the first category at the bottom
    return withBase({
      grid: { left: 8, right: 36, top: 30, bottom: 4, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: ordered.map(function (r) { return r.short || r.name; }),
        axisLabel: { width: small() ? 90 : 150, overflow: "truncate" } },
      series: series.map(function (s) {
        return { name: s.name, type: "bar", barMaxWidth: 14, itemStyle: { color: s.color },
          label: { show: true, position: "right", fontSize: 11,
            formatter: function (p) { return p.value ? String(p.value) : ""; } },
          data: ordered.map(function (r) { return r[s.key]; }) };
      }),
    });
  }

  function ratesOption(d, dom) {
    var rates = [d.rates.check_in, d.rates.on_time];
    var w = dom.clientWidth || 300;
    // two side by side, each a 240° arc 1.5 radii tall: the box is as tall as the arcs need
    var radius = Math.max(36, Math.min(w / 4 - 12, 96));
    var h = Math.round(radius * 1.5 + 20) + "px";
    if (dom.style.height !== h) { dom.style.height = h; echartsOf(dom).resize(); }
    function tone(r) { return r == null ? COLORS.suspended : r >= 0.9 ? COLORS.closed : r >= 0.75 ? COLORS.warning : COLORS.overdue; }
    return {
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      series: rates.map(function (r, i) {
        return {
          type: "gauge", center: [(i ? 75 : 25) + "%", radius + 8], radius: radius,
          min: 0, max: 100, startAngle: 210, endAngle: -30,
          progress: { show: true, width: 12, itemStyle: { color: tone(r.rate) } },
          axisLine: { lineStyle: { width: 12, color: [[1, "#e6e9ee"]] } },
          pointer: { show: false }, axisTick: { show: false }, splitLine: { show: false }, axisLabel: { show: false },
          anchor: { show: false },
          title: { show: false },
          detail: { valueAnimation: true, offsetCenter: [0, "5%"], fontSize: small() ? 20 : 24, fontWeight: "bold",
            color: "#1f2328", formatter: function () { return pct(r.rate); } },
          data: [{ value: r.rate == null ? 0 : Math.round(r.rate * 1000) / 10, name: r.label }],
        };
      }),
    };
  }

  function echartsOf(dom) { return window.echarts.getInstanceByDom(dom); }

  function renderCharts(d) {
    var c = cur.charts;
    cur.data = d;
    if (c.steps) c.steps.setOption(stepsOption(d), true);
    if (c.alerts) c.alerts.setOption(alertsOption(d), true);
    if (c.townships) {
      fit(c.townships, d.by_township.length);
      c.townships.setOption(rankOption(d.by_township, [
        { key: "open", name: "在办", color: COLORS.open }, { key: "overdue", name: "超期", color: COLORS.overdue }]), true);
    }
    if (c.departments) {
      fit(c.departments, d.by_department.length);
      c.departments.setOption(rankOption(d.by_department, [
        { key: "open", name: "主办在办", color: COLORS.open }, { key: "overdue", name: "超期", color: COLORS.overdue },
        { key: "awaiting_check_in", name: "待报到", color: COLORS.awaiting }]), true);
    }
    if (c.rates) c.rates.setOption(ratesOption(d, c.rates.getDom()), true);
  }
  function fit(chart, rows) {
    var dom = chart.getDom(), h = rankHeight(rows) + "px";
    if (dom.style.height !== h) { dom.style.height = h; chart.resize(); }
  }

  // ---- life cycle -------------------------------------------------------------------------------
  function withEcharts(state, cb) {
    if (window.echarts) { cb(); return; }
    // swapped in by htmx, the vendored script loads asynchronously: wait for it (at most 20 s)
    var tries = 0;
    state.wait = setInterval(function () {
      if (window.echarts) { clearInterval(state.wait); state.wait = null; cb(); }
      else if (++tries > 400) { clearInterval(state.wait); state.wait = null; }
    }, 50);
  }

  function init() {
    var root = document.getElementById("dashboard");
    if (cur && cur.root === root && document.contains(root)) return;
    dispose();
    if (!root) return;
    var state = cur = { root: root, charts: {}, timer: null, poll: null, wait: null, busy: false, again: false };
    var data;
    try { data = JSON.parse(document.getElementById("dashboard-data").textContent); } catch (e) { data = null; }
    withEcharts(state, function () {
      if (cur !== state) return;
      root.querySelectorAll("[data-chart]").forEach(function (dom) {
        var old = window.echarts.getInstanceByDom(dom);
        if (old) old.dispose();
        dom.textContent = "";  // a page restored from htmx's history may hold a dead canvas
        state.charts[dom.dataset.chart] = window.echarts.init(dom, null, { renderer: "canvas" });
      });
      root.classList.add("dash-live");  // the charts show the rates' percentages: the text need not repeat them
      if (data) renderCharts(data);
    });
    state.poll = setInterval(schedule, POLL);
  }

  function dispose() {
    if (!cur) return;
    cur.root.classList.remove("dash-live");
    clearTimeout(cur.timer);
    clearInterval(cur.poll);
    if (cur.wait) clearInterval(cur.wait);
    Object.keys(cur.charts).forEach(function (k) {
      var dom = cur.charts[k].getDom();
      cur.charts[k].dispose();
      if (dom) dom.textContent = "";
    });
    cur = null;
  }

  function schedule() {
    if (!cur) return;
    if (!document.contains(cur.root)) { dispose(); return; }
    if (cur.busy) { cur.again = true; return; }
    if (cur.timer) return;  // one fetch for the whole burst
    cur.timer = setTimeout(refresh, REFRESH_DELAY);
  }

  function refresh() {
    var state = cur;
    if (!state) return;
    state.timer = null;
    state.busy = true;
    fetch("/dashboard/data.json", { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) {
        var json = r.ok && (r.headers.get("content-type") || "").indexOf("application/json") === 0;
        return json ? r.json() : null;  // signed out: the login page, not figures
      })
      .then(function (d) {
        if (!d || cur !== state || !document.contains(state.root)) return;
        renderText(d);
        renderCharts(d);
      })
      .catch(function () {})
      .then(function () {
        state.busy = false;
        if (state.again && cur === state) { state.again = false; schedule(); }
      });
  }

  var resizing = null;
  function resize() {
    if (resizing) return;
    resizing = window.requestAnimationFrame(function () {
      resizing = null;
      if (!cur) return;
      Object.keys(cur.charts).forEach(function (k) { cur.charts[k].resize(); });
      if (cur.data && cur.charts.rates) cur.charts.rates.setOption(ratesOption(cur.data, cur.charts.rates.getDom()), true);
    });
  }

  // once per document: body stays when htmx swaps its content, so these never pile up
  document.body.addEventListener("chuishao:event", schedule);
  window.addEventListener("resize", resize);
  document.addEventListener("htmx:load", init);
  // back to the dashboard from htmx's history: the snapshot holds the figures of when it was left
  document.addEventListener("htmx:historyRestore", function () { init(); schedule(); });
  // leaving by htmx: free the charts before the page is snapshotted for the back button and swapped out
  document.addEventListener("htmx:beforeHistorySave", dispose);
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (cur && e.detail && e.detail.target && e.detail.target.contains(cur.root)) dispose();
  });

  window.ChuishaoDashboard = { init: init, refresh: schedule, dispose: dispose };
  init();
})();
