// chuishao pages: htmx settings, and the live feed (the API's WebSocket, signed in by the session cookie).
// Pages listen for `chuishao:event` on document.body (htmx: hx-trigger="chuishao:event from:body").
(function () {
  "use strict";

  document.addEventListener("htmx:configRequest", function () {});
  if (window.htmx) {
    // show the server's answer for refused input (422), conflicts (409) and scope errors (403/404) too:
    // those pages carry the message next to the field or say why
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(403|404|409|422|429)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  var status = function (text) {
    var el = document.getElementById("live-status");
    if (el) el.textContent = text || "";
  };

  function refreshUnread() {
    var el = document.getElementById("unread");
    if (!el) return;
    fetch("/notifications/unread.json", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (!d) return;
        el.textContent = d.unread > 99 ? "99+" : String(d.unread);
        el.hidden = !d.unread;
      })
      .catch(function () {});
  }

  var lastId = null, delay = 1000, socket = null;
  function connect() {
    if (!document.body || !document.body.dataset.live) return;
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var url = proto + "//" + location.host + "/api/v1/ws" + (lastId !== null ? "?since=" + lastId : "");
    socket = new WebSocket(url);
    socket.onopen = function () { delay = 1000; status(""); };
    socket.onmessage = function (m) {
      var data;
      try { data = JSON.parse(m.data); } catch (e) { return; }
      if (data.type === "hello") {
        if (lastId === null) lastId = data.last_event_id;
        return;
      }
      if (data.type !== "event") return;
      if (typeof data.id === "number" && (lastId === null || data.id > lastId)) lastId = data.id;
      document.body.dispatchEvent(new CustomEvent("chuishao:event", { detail: data }));
      refreshUnread();
    };
    socket.onclose = function (e) {
      socket = null;
      if (e.code === 4401) return;  // signed out or session ended: nothing to resume
      status("实时连接已断开，正在重连…");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  // timers on pages: <time data-countdown="ISO"> counts down to a deadline in wall-clock minutes
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.countdown) - now) / 60000);
      if (isNaN(left)) return;
      var a = Math.abs(left), text = a >= 60 ? Math.floor(a / 60) + " 小时 " + (a % 60) + " 分" : a + " 分钟";
      el.textContent = (left < 0 ? "已超时 " : "距截止 ") + text;
    });
  }

  // a form htmx could not show the answer of: say so instead of doing nothing
  document.addEventListener("htmx:responseError", function (e) {
    var code = e.detail.xhr ? e.detail.xhr.status : 0;
    status(code === 413 ? "提交的内容或文件过大（照片请压缩，单次合计不超过上限），未保存，请调整后重试。"
                        : "操作未完成（服务器返回 " + code + "），请稍后重试。");
    setTimeout(function () { status(""); }, 12000);
  });
  document.addEventListener("htmx:sendError", function () {
    status("网络连接失败，操作未提交，请检查网络后重试。");
    setTimeout(function () { status(""); }, 12000);
  });

  document.addEventListener("DOMContentLoaded", function () {
    refreshUnread();
    connect();
    tick();
    setInterval(tick, 30000);
  });
  document.addEventListener("htmx:afterSwap", tick);
  // a boosted page swaps the whole body, bell included (rendered hidden): fetch its count again
  document.addEventListener("htmx:afterSettle", function (e) { if (e.target === document.body) refreshUnread(); });
})();
