// The worker's pass page (`/pass/<secret>`): the rotating QR code and stations nearby,
// in one language at a time. After one visit it opens offline (pass-sw.js keeps the
// page) and shows the codes fetched before (kept in localStorage) until they run out,
// then says until when they worked and what to do.
// Plain ES2017 without modules: WeChat's built-in browser runs this page too.
"use strict";
(function () {
  var t = yzLang.t;
  // The secret is the last part of this page's address; every API call is relative to it.
  var secret = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
  var api = "/api/pass/" + encodeURIComponent(secret);
  var KEPT = "yz-pass:" + secret;   // this pass's codes on this phone
  // How many codes ahead the central hands out is its operator's choice
  // (`credentials.prefetch`); more are asked for once two of them have been used.
  var refillBelow = 8;
  var tokens = [];         // [{token, not_before_ms, not_after_ms, qr_svg}], by not_before
  var period = 30000;
  var offset = 0;          // server clock minus this phone's clock, in ms
  var workerId = "";
  var shown = null;
  var fetching = false;
  var origin = null;
  var lastTry = 0;         // when a refill was last attempted (phone clock, ms)
  var problem = null;      // {key, values}: why there are no new codes, in catalogue terms
  var offline = false;
  var ranOutAt = null;     // when the last code stopped working, while no new one has come
  var lastStations = null; // the last list the server sent, drawn again on a language change

  var el = function (id) { return document.getElementById(id); };
  var now = function () { return Date.now() + offset; };

  function keep() {
    try {
      localStorage.setItem(KEPT, JSON.stringify(
        {tokens: tokens, period: period, offset: offset, worker_id: workerId}));
    } catch (error) { /* full or switched off: the page still works while open */ }
  }

  function restore() {
    try {
      var kept = JSON.parse(localStorage.getItem(KEPT) || "null");
      if (kept && Array.isArray(kept.tokens)) {
        tokens = kept.tokens;
        period = kept.period;
        offset = kept.offset;
        workerId = kept.worker_id || "";
      }
    } catch (error) { /* nothing usable kept */ }
  }

  // An error answer in the worker's words: by the reason the server names, else by status.
  function problemOf(status, body) {
    var first = body && body.errors && body.errors[0];
    if (status === 403 && first && first.reason) return {key: "pass.error." + first.reason};
    if (status === 404) return {key: "pass.error.link"};
    if (status === 403) return {key: "pass.error.not_valid"};
    if (status === 409) return {key: "pass.error.scope"};
    return {key: "pass.error.server"};
  }

  async function refill() {
    if (fetching) return;
    fetching = true;
    try {
      var response = await fetch(api + "/tokens", {cache: "no-store"});
      var body = null;
      try { body = await response.json(); } catch (error) { /* not JSON: a proxy's page */ }
      offline = false;
      if (!response.ok) {
        problem = problemOf(response.status, body);
        if (response.status === 404 || response.status === 403) {
          tokens = [];   // the pass is dead or not valid: no old code may be shown
          keep();
        }
        return;
      }
      problem = null;
      offset = Date.parse(body.server_time) - Date.now();
      period = body.period_s * 1000;
      refillBelow = Math.max(body.tokens.length - 3, 1);
      var fresh = body.tokens.map(function (x) {
        return {
          token: x.token, qr_svg: x.qr_svg,
          not_before_ms: Date.parse(x.not_before), not_after_ms: Date.parse(x.not_after),
        };
      });
      var known = new Set(fresh.map(function (x) { return x.not_before_ms; }));
      tokens = tokens.filter(function (x) { return !known.has(x.not_before_ms); })
        .concat(fresh).sort(function (a, b) { return a.not_before_ms - b.not_before_ms; });
      workerId = body.worker_id;
      keep();
    } catch (error) {
      offline = true;   // no signal: keep rotating through what was fetched before
    } finally {
      fetching = false;
      showStatus();
    }
  }

  function ahead() {
    var at = now();
    return tokens.filter(function (x) { return x.not_before_ms > at; }).length;
  }

  function current() {
    var at = now();
    var step = Math.floor(at / period) * period;
    // The code of this step; failing that, any code that is still valid.
    return tokens.find(function (x) { return x.not_before_ms === step; })
      || tokens.filter(function (x) { return x.not_before_ms <= at && at < x.not_after_ms; }).pop()
      || null;
  }

  // A moment on the server's clock as this phone's clock shows it: "14:05", or
  // "12-02 14:05" when it is not today.
  function clock(serverMs) {
    var when = new Date(serverMs - offset);
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    var time = two(when.getHours()) + ":" + two(when.getMinutes());
    if (when.toDateString() === new Date().toDateString()) return time;
    return two(when.getMonth() + 1) + "-" + two(when.getDate()) + " " + time;
  }

  function lastValid() {
    return tokens.length ? tokens[tokens.length - 1].not_after_ms : null;
  }

  function showStatus() {
    var status = el("status");
    var text = "";
    if (problem) {
      text = t(problem.key);
    } else if (offline && current() !== null) {
      text = t("pass.offline_left", {count: ahead(), until: clock(lastValid())});
    }
    status.textContent = text;
    status.className = text ? "warn" : "";
    el("who").textContent = workerId ? t("pass.who", {id: workerId}) : "";
  }

  function render() {
    var at = now();
    var before = lastValid();
    tokens = tokens.filter(function (x) { return x.not_after_ms > at; });
    ranOutAt = tokens.length ? null : before !== null ? before : ranOutAt;
    var token = current();
    var qr = el("qr");
    if (token === null) {
      qr.classList.add("stale");
      qr.innerHTML = "";
      shown = null;
      // Out of codes: say until when they worked and what to do now.
      el("countdown").textContent = problem ? ""
        : ranOutAt !== null ? t("pass.ran_out", {until: clock(ranOutAt)}) : t("pass.connect");
    } else {
      if (shown !== token.token) {
        qr.innerHTML = token.qr_svg;
        qr.setAttribute("data-token", token.token);
        shown = token.token;
      }
      qr.classList.remove("stale");
      var left = Math.ceil((Math.floor(at / period) * period + period - at) / 1000);
      el("countdown").textContent = t("pass.countdown", {seconds: left});
    }
    showStatus();
    if (ahead() < refillBelow && Date.now() - lastTry > 10000) {
      lastTry = Date.now();
      refill().then(function () { if (current() !== token) render(); });
    }
  }

  function tick() {
    render();
    // Wake at the next whole second: the countdown moves and a step boundary is never late.
    setTimeout(tick, 1000 - (now() % 1000) + 5);
  }

  function stationItem(s) {
    var item = document.createElement("li");
    item.className = s.status + (s.pass_valid ? "" : " elsewhere");
    item.setAttribute("data-station", s.id);
    var name = document.createElement("span");
    name.className = "name";
    var where = s.home && lastStations.sorted_by === "station" ? t("pass.your_station")
      : s.distance_km === null ? "" : t("pass.distance", {km: s.distance_km.toFixed(1)});
    name.textContent = s.name + (where ? " · " + where : "");
    var state = document.createElement("span");
    state.className = "state " + s.status;
    state.textContent = s.status === "open" && s.free !== null
      ? t("pass.free", {free: s.free}) : t("pass.status." + s.status);
    item.appendChild(name);
    item.appendChild(state);
    if (!s.pass_valid) {
      var note = document.createElement("span");
      note.className = "note";
      note.textContent = t("pass.not_valid_here");
      item.appendChild(note);
    }
    // Opens the report form for this station (pass-voice.js).
    var report = document.createElement("button");
    report.type = "button";
    report.className = "report";
    report.setAttribute("data-report", s.id);
    report.textContent = t("pass.report");
    item.appendChild(report);
    return item;
  }

  function drawStations() {
    if (lastStations === null) return;
    el("order").textContent = t("pass.order." + lastStations.sorted_by);
    var list = el("stations");
    list.innerHTML = "";
    lastStations.stations.forEach(function (s) { list.appendChild(stationItem(s)); });
    document.dispatchEvent(new CustomEvent("yz-stations", {detail: lastStations.stations}));
  }

  async function loadStations() {
    var url = api + "/stations";
    if (origin) url += "?lat=" + origin.lat + "&lon=" + origin.lon;
    try {
      var response = await fetch(url, {cache: "no-store"});
      if (!response.ok) return;
      lastStations = await response.json();
      try { localStorage.setItem(KEPT + ":stations", JSON.stringify(lastStations)); } catch (e) {}
      drawStations();
    } catch (error) {
      // Offline: the list shown last stays.
    }
  }

  function locate() {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(function (position) {
      origin = {
        lat: position.coords.latitude.toFixed(4), lon: position.coords.longitude.toFixed(4),
      };
      loadStations();
    }, function () { /* refused: distances stay from the worker's station */ });
  }

  // Ask for the position only when the worker has allowed it before; the button asks.
  function locateIfAllowed() {
    if (!navigator.permissions || !navigator.permissions.query) return;
    navigator.permissions.query({name: "geolocation"}).then(function (state) {
      if (state.state === "granted") locate();
    }).catch(function () { /* no permissions API: the button is there */ });
  }

  async function keepForOffline() {
    if (!("serviceWorker" in navigator) || !window.caches) return;
    try {
      await navigator.serviceWorker.register("/pass/sw.js", {scope: "/pass/"});
      await navigator.serviceWorker.ready;
      // This page's first load came before the worker ran: keep a copy of it now.
      var cache = await caches.open("yz-pass-v2");
      await cache.add(location.pathname);
      document.documentElement.setAttribute("data-offline-ready", "1");
    } catch (error) {
      // No service worker here (an old browser, a private window): online only.
    }
  }

  // Where the worker's face is kept (terminals only; the central has no face), and
  // withdrawing consent: the terminals are asked to delete it.
  var faces = [];
  function drawFaces() {
    var list = el("face-list");
    list.textContent = "";
    faces.forEach(function (f) {
      var item = document.createElement("li");
      item.textContent = t("pass.face.where", {station: f.station_id, terminal: f.terminal_id,
        since: f.consented_at.slice(0, 10)}) +
        (f.state === "removal_pending" ? " · " + t("pass.face.pending") : "");
      list.appendChild(item);
    });
    el("face-withdraw").hidden = !faces.some(function (f) { return f.state === "paired"; });
    el("face").hidden = faces.length === 0 && !el("face-status").textContent;
  }

  async function loadFaces() {
    try {
      var response = await fetch(api + "/face", {cache: "no-store"});
      if (!response.ok) return;
      faces = await response.json();
      drawFaces();
    } catch (error) { /* offline: the section stays as it was */ }
  }

  async function withdrawFace() {
    if (!window.confirm(t("pass.face.confirm"))) return;
    var status = el("face-status");
    try {
      var response = await fetch(api + "/face", {method: "DELETE", cache: "no-store"});
      if (!response.ok) throw new Error("status " + response.status);
      faces = await response.json();
      status.textContent = t("pass.face.withdrawn");
    } catch (error) {
      status.textContent = t("pass.face.failed");
    }
    drawFaces();
  }

  el("face-withdraw").addEventListener("click", withdrawFace);
  el("locate").addEventListener("click", locate);
  el("lang").addEventListener("click", function () {
    yzLang.toggle().then(function () { render(); drawStations(); drawFaces(); })
      .catch(function () {});
  });

  restore();
  try {
    lastStations = JSON.parse(localStorage.getItem(KEPT + ":stations") || "null");
  } catch (error) { lastStations = null; }
  yzLang.use(yzLang.language).catch(function () { /* the page's Chinese stays */ })
    .then(function () {
      drawStations();
      return refill();
    })
    .then(function () {
      tick();
      loadStations();
      loadFaces();
      locateIfAllowed();
      keepForOffline();
    });
  setInterval(loadStations, 60000);
})();
