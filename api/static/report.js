// 上报 page: GPS position and its grid, catalog search, photo previews (shrunk before sending), and drafts kept
// on the phone (IndexedDB) until the server has them. A draft carries its client_key: sent twice, it makes one
// case (the server replays the first answer), so resending after a lost answer is always safe.
(function () {
  "use strict";
  if (window.chuishaoReport) {  // swapped in again by htmx boost: the listeners below already exist
    window.chuishaoReport.init();
    return;
  }

  var DB_NAME = "chuishao-report", STORE = "drafts";
  var MAX_SIDE = 1600, QUALITY = 0.85, SHRINK_OVER = 1.5 * 1024 * 1024;
  var photos = [];  // photos of the report being written: [{name, type, blob, url}]
  var flushing = null;

  // ---- IndexedDB: one store of drafts keyed by client_key --------------------------------------------------
  function openDb() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("IndexedDB unavailable")); return; }
      var req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "key" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function inStore(mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode), out;
        var r = fn(t.objectStore(STORE));
        if (r) r.onsuccess = function () { out = r.result; };
        t.oncomplete = function () { db.close(); resolve(out); };
        t.onerror = t.onabort = function () { db.close(); reject(t.error || new Error("IndexedDB failed")); };
      });
    });
  }
  var drafts = {
    all: function () {
      return inStore("readonly", function (s) { return s.getAll(); }).then(function (list) {
        return (list || []).sort(function (a, b) { return a.created - b.created; });
      });
    },
    put: function (d) { return inStore("readwrite", function (s) { return s.put(d); }); },
    del: function (key) { return inStore("readwrite", function (s) { return s.delete(key); }); },
  };

  // ---- small helpers ------------------------------------------------------------------------------------------
  function $(sel, root) { return (root || document).querySelector(sel); }
  function theForm() { return $("[data-report-form]"); }
  function me() {
    var f = theForm();
    return f ? f.dataset.user : (document.body.dataset.reportUser || "");
  }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);  // plain http (no secure context): randomUUID is missing, getRandomValues is not
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function csrf() {
    var f = theForm(), field = f && f.elements.csrftoken;
    if (field && field.value) return field.value;
    var m = $('meta[name="csrf-token"]');
    return m ? m.content : "";
  }
  function savedAt(ms) {
    var d = new Date(ms), p = function (n) { return (n < 10 ? "0" : "") + n; };
    var today = new Date();
    var day = d.toDateString() === today.toDateString() ? "今天" : (d.getMonth() + 1) + "月" + d.getDate() + "日";
    return day + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  }
  function say(html, kind) {
    var el = $("#report-status");
    if (!el) return;
    el.className = "rp-status" + (html ? " notice " + (kind || "") : "");
    el.innerHTML = html || "";
  }

  // ---- the form's values ----------------------------------------------------------------------------------------
  var TEXT = ["title", "description", "category_q", "category", "address", "lat", "lon", "grid", "township"];
  function readFields(form) {
    var out = {};
    TEXT.forEach(function (n) { if (form.elements[n]) out[n] = form.elements[n].value; });
    var u = form.querySelector('input[name="urgency"]:checked');
    out.urgency = u ? u.value : "normal";
    var line = $("#loc-status");
    out.loc_text = line && !line.hidden ? line.textContent : "";
    return out;
  }
  function fillFields(form, f) {
    TEXT.forEach(function (n) { if (form.elements[n]) form.elements[n].value = f[n] || ""; });
    form.querySelectorAll('input[name="urgency"]').forEach(function (r) { r.checked = r.value === (f.urgency || "normal"); });
    showLocation(f.lat && f.lon ? (f.loc_text || "坐标 " + f.lat + ", " + f.lon) : "");
  }
  function resetForm(form) {
    form.reset();
    TEXT.forEach(function (n) { if (form.elements[n] && form.elements[n].type === "hidden") form.elements[n].value = ""; });
    form.elements.client_key.value = newKey();
    setPhotos([]);
    showLocation("");
    placeLine(null);
    clearErrors(form);
  }

  // ---- errors beside the fields (the same words and places as the server's 422 page) ------------------------
  var LABELS = { title: "标题", description: "详细情况", category: "事项类别", address: "地址", location: "位置",
                 photos: "照片", urgency: "紧急程度", grid: "网格", township: "乡镇" };
  function fieldBox(form, name) {
    if (name === "location") return $("#loc-field");
    if (name === "photos") return $("#photos-field");
    if (name === "urgency") return $("#f-urgency");
    var input = $("#f-" + name, form);
    return input ? input.closest(".field") : null;
  }
  function clearErrors(form) {
    document.querySelectorAll("[data-js-error]").forEach(function (el) { el.remove(); });
    form.querySelectorAll(".field.has-error, fieldset.has-error").forEach(function (el) { el.classList.remove("has-error"); });
    document.querySelectorAll(".error-summary, .field-error").forEach(function (el) { el.remove(); });
  }
  function showErrors(form, errors) {
    clearErrors(form);
    var items = [];
    Object.keys(errors).forEach(function (name) {
      var box = name === "_" ? null : fieldBox(form, name);
      var target = box && (box.id || (box.querySelector("[id^='f-']") || {}).id);
      items.push("<li>" + (box ? '<a href="#' + esc(target) + '">' + esc(errors[name]) + "</a>" : esc(errors[name])) + "</li>");
      if (!box) return;
      box.classList.add("has-error");
      var p = document.createElement("p");
      p.className = "field-error";
      p.setAttribute("data-js-error", "");
      p.innerHTML = '<span class="visually-hidden">错误：</span>' + esc(errors[name]);
      var after = box.querySelector(".hint") || box.querySelector("label, legend");
      if (after && after.parentNode === box) after.after(p); else box.prepend(p);
    });
    var sum = document.createElement("div");
    sum.className = "error-summary";
    sum.setAttribute("role", "alert");
    sum.setAttribute("tabindex", "-1");
    sum.setAttribute("data-js-error", "");
    sum.innerHTML = "<h2>请修改以下内容</h2><ul>" + items.join("") + "</ul>";
    form.before(sum);
    sum.focus();
  }

  // ---- photos: previews, shrunk to 1600 px JPEG (a phone's 5 MB photo becomes ~300 KB on a weak signal) --------
  function shrink(file) {
    var orig = { name: file.name || "photo.jpg", type: file.type || "application/octet-stream", blob: file };
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) return Promise.resolve(orig);
    return createImageBitmap(file).then(function (bmp) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
      if (scale === 1 && file.size <= SHRINK_OVER) { bmp.close(); return orig; }
      var c = document.createElement("canvas");
      c.width = Math.round(bmp.width * scale); c.height = Math.round(bmp.height * scale);
      var g = c.getContext("2d");
      g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
      g.drawImage(bmp, 0, 0, c.width, c.height);
      bmp.close();
      return new Promise(function (resolve) {
        c.toBlob(function (b) {
          if (!b || b.size >= file.size) { resolve(orig); return; }
          resolve({ name: (orig.name.replace(/\.[^.]*$/, "") || "photo") + ".jpg", type: "image/jpeg", blob: b });
        }, "image/jpeg", QUALITY);
      });
    }).catch(function () { return orig; });  // not decodable here (HEIC…): the server decides
  }
  function setPhotos(list) {
    photos.forEach(function (p) { if (p.url) URL.revokeObjectURL(p.url); });
    photos = list.map(function (p) { return { name: p.name, type: p.type, blob: p.blob }; });
    renderPhotos();
  }
  function renderPhotos() {
    var ul = $("#photo-preview");
    if (!ul) return;
    ul.innerHTML = "";
    photos.forEach(function (p, i) {
      if (!p.url) p.url = URL.createObjectURL(p.blob);
      var li = document.createElement("li");
      li.className = "rp-thumb";
      li.innerHTML = '<img alt="第 ' + (i + 1) + ' 张照片" src="' + p.url + '">' +
        '<button type="button" class="rp-thumb-remove" data-remove="' + i + '" aria-label="移除第 ' + (i + 1) + ' 张照片">×</button>';
      ul.appendChild(li);
    });
  }
  function addPhotos(input) {
    var form = theForm(), max = 9;
    var files = Array.prototype.slice.call(input.files || []);
    input.value = "";  // the same photo may be picked again later; our list is what gets sent
    if (!files.length) return;
    var room = max - photos.length;
    if (files.length > room) {
      files = files.slice(0, Math.max(room, 0));
      if (form) showErrors(form, { photos: "最多 " + max + " 张照片，多出的没有加入" });
    }
    Promise.all(files.map(shrink)).then(function (list) {
      photos = photos.concat(list);
      renderPhotos();
    });
  }

  // ---- position ---------------------------------------------------------------------------------------------
  function showLocation(text) {
    var line = $("#loc-status"), clear = $("#loc-clear");
    if (line) { line.textContent = text || ""; line.hidden = !text; }
    if (clear) clear.hidden = !text;
  }
  function placeLine(found, note) {
    var el = $("#place-line"), form = theForm();
    if (!el || !form) return;
    var own = form.dataset.ownLabel;
    if (found && found.grid) {
      var label = found.grid_name + "（" + found.township_name + "）";
      var html = "所在网格：<strong>" + esc(label) + "</strong>（按当前位置）";
      if (form.dataset.ownTownship && found.township !== form.dataset.ownTownship) {
        html += '<br><span class="rp-warn">该位置属于' + esc(found.township_name) +
          "，不在本乡镇范围内，不能上报。请确认位置，或点“清除位置”后填写地址。</span>";
      }
      el.innerHTML = html;
    } else if (own) {
      el.innerHTML = "所在网格：<strong>" + esc(own) + "</strong>" + (note ? "<br>" + esc(note) : "");
    } else {
      el.innerHTML = esc(note || "请用定位或选择乡镇、网格说明位置");
    }
  }
  function locate() {
    var form = theForm();
    if (!form) return;
    if (!navigator.geolocation) { showLocation("本机无法定位，请填写地址"); return; }
    showLocation("正在定位…");
    navigator.geolocation.getCurrentPosition(function (pos) {
      var lat = pos.coords.latitude.toFixed(6), lon = pos.coords.longitude.toFixed(6);
      form.elements.lat.value = lat;
      form.elements.lon.value = lon;
      var acc = pos.coords.accuracy ? "（精度约 " + Math.round(pos.coords.accuracy) + " 米）" : "";
      showLocation("坐标 " + lat + ", " + lon + acc);
      fetch("/report/locate?lat=" + lat + "&lon=" + lon, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (found) {
          placeLine(found, found ? "" : "当前位置不在已划定范围的网格内，将按本人所在网格上报");
          if (!found && !form.dataset.ownLabel) placeLine(null, "当前位置不在已划定范围的网格内，请选择乡镇或网格");
        })
        .catch(function () { placeLine(null, "暂时查不到所属网格（网络不可用），提交后由系统按坐标确定"); });
    }, function (err) {
      form.elements.lat.value = form.elements.lon.value = "";
      showLocation(err && err.code === 1 ? "未获得定位权限：请在下面填写地址或位置描述" :
        "暂时无法定位：请在下面填写地址，或稍后再试");
      var clear = $("#loc-clear");
      if (clear) clear.hidden = true;
      var addr = $("#f-address");
      if (addr) addr.focus();
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }
  function clearLocation() {
    var form = theForm();
    if (!form) return;
    form.elements.lat.value = form.elements.lon.value = "";
    showLocation("");
    placeLine(null);
  }

  // ---- catalog search: the picked label becomes the item's code -------------------------------------------------
  function pickItem(input) {
    var form = theForm(), code = "";
    var list = document.getElementById(input.getAttribute("list"));
    if (list) {
      Array.prototype.some.call(list.options, function (o) {
        if (o.value === input.value.trim()) { code = o.dataset.code; return true; }
        return false;
      });
    }
    form.elements.category.value = code;  // a typed text that names no item: the server says so beside it
  }

  // ---- sending ------------------------------------------------------------------------------------------------
  // resolves to {ok, data} | {invalid, errors} | {offline} | {auth} | {server, status}
  function send(d) {
    if (navigator.onLine === false) return Promise.resolve({ offline: true });
    var fd = new FormData();
    fd.append("csrftoken", csrf());
    fd.append("client_key", d.key);
    TEXT.concat(["urgency"]).forEach(function (n) { if (d.fields[n] != null) fd.append(n, d.fields[n]); });
    (d.photos || []).forEach(function (p) { fd.append("photos", p.blob, p.name); });
    return fetch("/report", {
      method: "POST", body: fd, credentials: "same-origin",
      headers: { "x-csrftoken": csrf(), Accept: "application/json" },
    }).then(function (r) {
      var json = (r.headers.get("content-type") || "").indexOf("application/json") === 0;
      if ((r.status === 200 || r.status === 201) && json) return r.json().then(function (data) { return { ok: true, data: data }; });
      if (r.status === 422 && json) {
        return r.json().then(function (body) {
          return { invalid: true, errors: body.fields || { _: (body.error && body.error.message) || "内容有误" } };
        });
      }
      if (r.status === 413) return { invalid: true, errors: { photos: "照片总大小超过上限，请减少几张照片后再提交" } };
      if (r.status === 401 || r.status === 403 || r.redirected) return { auth: true };
      return { server: true, status: r.status };
    }, function () { return { offline: true }; });
  }

  function waitingLine(n) {
    return n ? "（待发送 " + n + " 件）" : "";
  }

  // send every waiting draft of this user, oldest first; never more than one pass at a time
  function flush() {
    if (flushing) return flushing;
    flushing = drafts.all().then(function (list) {
      var mine = list.filter(function (d) { return d.user === me() && d.state !== "invalid"; });
      var sent = [], stop = null;
      var chain = Promise.resolve();
      mine.forEach(function (d) {
        chain = chain.then(function () {
          if (stop) return;
          return send(d).then(function (res) {
            if (res.ok) { sent.push({ d: d, data: res.data }); return drafts.del(d.key); }
            if (res.invalid) { d.state = "invalid"; d.errors = res.errors; return drafts.put(d); }
            stop = res;
          });
        });
      });
      return chain.then(function () { return renderDrafts(); }).then(function (left) {
        if (sent.length) {
          say("已发送 " + sent.length + " 件：" + sent.map(function (s) {
            return '<a href="' + esc(s.data.url) + '">' + esc(s.data.code) + " " + esc(s.d.fields.title) + "</a>";
          }).join("、") + waitingLine(left), "ok");
        } else if (stop && stop.auth) {
          say("登录已过期：草稿仍保存在手机上，请重新登录后回到本页发送" + waitingLine(left), "warn");
        } else if (stop && stop.server) {
          say("服务器暂时无法接收（" + stop.status + "），草稿仍保存在手机上，稍后自动重试" + waitingLine(left), "warn");
        } else if (stop && stop.offline && left) {
          say("已保存在手机上，待网络恢复后自动发送" + waitingLine(left), "warn");
        }
        return { sent: sent.length, left: left };
      });
    }).catch(function () {
      return { sent: 0, left: 0 };
    }).then(function (r) { flushing = null; return r; });
    return flushing;
  }

  // the list "待发送的草稿": this user's drafts, with 删除 (and 修改 for those the server refused)
  function renderDrafts() {
    var box = $("#drafts");
    return drafts.all().then(function (list) {
      var form = theForm(), editing = form ? form.elements.client_key.value : null;
      var others = list.filter(function (d) { return d.user !== me(); }).length;
      // the draft open in the form is shown there, with its errors, not twice
      var mine = list.filter(function (d) { return d.user === me() && d.key !== editing; });
      var waiting = mine.filter(function (d) { return d.state !== "invalid"; }).length;
      if (!box) return waiting;
      box.hidden = !(mine.length + others);
      var ul = $("#draft-list");
      ul.innerHTML = mine.map(function (d) {
        var n = (d.photos || []).length;
        var state = d.state === "invalid"
          ? '<span class="tag state-returned">需修改</span><span class="small rp-draft-err">' +
            esc(Object.keys(d.errors || {}).map(function (k) { return d.errors[k]; }).join("；")) + "</span>"
          : '<span class="tag">待发送</span>';
        return '<li class="rp-draft" data-key="' + esc(d.key) + '"><div class="cell"><div class="main">' +
          '<div class="title">' + esc(d.fields.title || "（无标题）") + "</div>" +
          '<div class="desc">保存于 ' + savedAt(d.created) + (n ? " · 照片 " + n + " 张" : "") + "</div>" +
          '<div class="desc">' + state + "</div></div>" +
          '<div class="side rp-draft-btns">' +
          (d.state === "invalid" ? '<button type="button" class="btn" data-edit>修改</button>' : "") +
          '<button type="button" class="btn danger" data-delete>删除</button></div></div></li>';
      }).join("");
      var note = $("#drafts-note");
      if (note) {
        note.textContent = (waiting ? "共 " + waiting + " 件待发送，保存在本手机上，网络恢复后会自动发送。" :
          mine.length ? "以下草稿需要修改后再提交。" : "") +
          (others ? "另有 " + others + " 件是其他账号保存的草稿，需该账号登录后发送。" : "");
      }
      var btn = $("#drafts-send");
      if (btn) btn.hidden = !waiting;
      return waiting;
    }).catch(function () {
      if (box) box.hidden = true;
      return 0;
    });
  }

  function onDraftClick(e) {
    var li = e.target.closest("li.rp-draft");
    if (!li) return;
    var key = li.dataset.key;
    if (e.target.closest("[data-delete]")) {
      if (!window.confirm("删除后无法恢复，确定删除这份草稿吗？")) return;
      drafts.del(key).then(renderDrafts).then(function () { say("草稿已删除。"); });
    } else if (e.target.closest("[data-edit]")) {
      drafts.all().then(function (list) {
        var d = list.filter(function (x) { return x.key === key; })[0], form = theForm();
        if (!d || !form) return;
        fillFields(form, d.fields);
        form.elements.client_key.value = d.key;  // the same draft: sending it still makes one case
        setPhotos(d.photos || []);
        showErrors(form, d.errors || {});
        say("已载入草稿，修改后点“提交上报”。");
        renderDrafts();
      });
    }
  }

  function setBusy(form, busy) {
    var b = form.querySelector('button[type="submit"]');
    if (b) { b.disabled = busy; b.textContent = busy ? "正在提交…" : "提交上报"; }
  }

  function onSubmit(e) {
    var form = e.target;
    e.preventDefault();
    var fields = readFields(form);
    if (!fields.title.trim()) {  // the server says the same; offline there is no server to ask
      showErrors(form, { title: "请填写标题，用一句话说明发生了什么" });
      return;
    }
    clearErrors(form);
    var d = { key: form.elements.client_key.value || newKey(), user: me(), fields: fields, created: Date.now(),
              state: "waiting", errors: {},
              photos: photos.map(function (p) { return { name: p.name, type: p.type, blob: p.blob }; }) };
    setBusy(form, true);
    var stored = drafts.put(d).then(function () { return true; }, function () { return false; });
    stored.then(function (kept) {
      return send(d).then(function (res) {
        if (res.ok) {
          return (kept ? drafts.del(d.key) : Promise.resolve()).then(function () {
            say("已发送，正在打开回执…", "ok");
            window.location.assign(res.data.url);
          });
        }
        setBusy(form, false);
        if (res.invalid) {
          d.state = "invalid"; d.errors = res.errors;
          return (kept ? drafts.put(d) : Promise.resolve()).then(function () {
            showErrors(form, res.errors);
            renderDrafts();
          });
        }
        if (!kept) {  // nowhere to keep it: leave everything in the form, say so plainly
          say("发送失败，且本浏览器无法保存草稿：请不要离开本页，有网络时再点“提交上报”。", "warn");
          return;
        }
        resetForm(form);
        return renderDrafts().then(function (left) {
          if (res.offline) say("已保存在手机上，待网络恢复后自动发送" + waitingLine(left), "warn");
          else if (res.auth) say("登录已过期：已保存在手机上，请重新登录后回到本页发送" + waitingLine(left), "warn");
          else say("服务器暂时无法接收（" + res.status + "），已保存在手机上，稍后自动重试" + waitingLine(left), "warn");
          var top = $("#report-status");
          if (top && top.scrollIntoView) top.scrollIntoView({ block: "center" });
        });
      });
    }).catch(function () {
      setBusy(form, false);
      say("提交时出错，内容仍在表单中，请再点一次“提交上报”。", "warn");
    });
  }

  function init() {
    var form = theForm();
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    document.body.dataset.reportUser = form.dataset.user;
    photos = [];
    if (!form.elements.client_key.value) form.elements.client_key.value = newKey();
    form.addEventListener("submit", onSubmit);
    form.querySelectorAll('input[type="file"]').forEach(function (input) {
      input.addEventListener("change", function () { addPhotos(input); });
    });
    var pv = $("#photo-preview");
    if (pv) pv.addEventListener("click", function (e) {
      var b = e.target.closest("[data-remove]");
      if (!b) return;
      var p = photos.splice(Number(b.dataset.remove), 1)[0];
      if (p && p.url) URL.revokeObjectURL(p.url);
      renderPhotos();
    });
    var loc = $("[data-locate]", form);
    if (loc && navigator.geolocation) { loc.hidden = false; loc.addEventListener("click", locate); }
    var clr = $("[data-loc-clear]", form);
    if (clr) clr.addEventListener("click", clearLocation);
    var cat = $("#f-category", form);
    if (cat) cat.addEventListener("input", function () { pickItem(cat); });
    var list = $("#draft-list");
    if (list) list.addEventListener("click", onDraftClick);
    var sendBtn = $("#drafts-send");
    if (sendBtn) sendBtn.addEventListener("click", function () {
      if (navigator.onLine === false) { say("现在没有网络，网络恢复后会自动发送。", "warn"); return; }
      say("正在发送…");
      flush();
    });
    renderDrafts().then(function (waiting) {
      if (waiting && navigator.onLine !== false) flush();
      else if (waiting) say("已保存在手机上，待网络恢复后自动发送" + waitingLine(waiting), "warn");
    });
  }

  window.addEventListener("online", function () { flush(); });
  window.addEventListener("offline", function () {
    if (theForm()) say("网络已断开：现在提交会先保存在手机上，网络恢复后自动发送。", "warn");
  });
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:load", init);
  window.chuishaoReport = { init: init, flush: flush, drafts: drafts, renderDrafts: renderDrafts };
  if (document.readyState !== "loading") init();
})();
