// The operator UI: login, hash routes (#map, #alerts, #entries, #station/<id>), the live
// stream, and the actions a role allows. All data is set with textContent, never as HTML.
"use strict";
(function () {
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  const views = ["login-view", "map-view", "alerts-view", "entries-view", "station-view"];
  let me = null, mapReady = false, knownAlerts = null, entriesNext = null;

  function csrf() {
    const match = document.cookie.match(/(?:^|; )yz_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function api(method, path, body) {
    const options = { method, headers: {}, credentials: "same-origin" };
    if (method !== "GET") options.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const answer = await fetch(path, options);
    if (answer.status === 401 && path !== "/api/session") { showLogin(); throw new Error("401"); }
    return answer;
  }

  function el(tag, text, className) {
    const element = document.createElement(tag);
    if (text !== undefined && text !== null) element.textContent = String(text);
    if (className) element.className = className;
    return element;
  }

  function show(view) {
    for (const id of views) $(id).hidden = id !== view;
    if (view === "map-view" && window.yzMap) window.yzMap.invalidate();
  }

  function showLogin() {
    me = null;
    $("nav").hidden = true;
    $("logout").hidden = true;
    $("me").textContent = "";
    show("login-view");
  }

  const canAct = () => me && (me.role === "operator" || me.role === "admin");

  async function start() {
    const config = await (await fetch("/ui/config.json")).json();
    await window.yzI18n.use(window.yzI18n.language);
    $("lang").value = window.yzI18n.language;
    $("lang").addEventListener("change", (e) => window.yzI18n.use(e.target.value));
    document.addEventListener("yz-language", () => { renderAlerts(); });
    $("login").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("filter-state").addEventListener("change", refilter);
    $("filter-amenity").addEventListener("change", refilter);
    $("filter-district").addEventListener("change", refilter);
    $("entries-filter").addEventListener("submit", (e) => { e.preventDefault(); loadEntries(false); });
    $("entries-more").addEventListener("click", () => loadEntries(true));
    window.addEventListener("hashchange", route);
    window.yzMap.init($("map"), config);
    const session = await fetch("/api/session");
    if (session.ok) { me = await session.json(); await enter(); } else showLogin();
  }

  async function login(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const answer = await api("POST", "/api/session",
      { name: form.get("name"), password: form.get("password") });
    if (!answer.ok) { $("login-error").hidden = false; return; }
    $("login-error").hidden = true;
    me = await answer.json();
    await enter();
  }

  async function logout() {
    await api("DELETE", "/api/session");
    location.reload();
  }

  async function enter() {
    $("nav").hidden = false;
    $("logout").hidden = false;
    $("me").textContent = me.name + " · " + me.role;
    document.body.dataset.role = me.role;
    route();
    if (!mapReady) {
      mapReady = true;
      const rows = await (await api("GET", "/api/stations")).json();
      window.yzMap.load(rows, (id) => { location.hash = "#station/" + encodeURIComponent(id); });
      const amenities = $("filter-amenity");
      for (const amenity of window.yzMap.amenities()) amenities.append(new Option(amenity, amenity));
      const districts = $("filter-district");
      for (const district of window.yzMap.districts()) districts.append(new Option(district, district));
      await loadAlerts();
      listen();
    }
  }

  function route() {
    if (!me) return showLogin();
    const hash = location.hash || "#map";
    if (hash.startsWith("#station/")) { show("station-view"); loadStation(decodeURIComponent(hash.slice(9))); }
    else if (hash === "#alerts") show("alerts-view");
    else if (hash === "#entries") { show("entries-view"); loadEntries(false); }
    else show("map-view");
  }

  function refilter() {
    window.yzMap.applyFilter({
      state: $("filter-state").value,
      amenity: $("filter-amenity").value,
      district: $("filter-district").value,
    });
    $("shown").textContent = String(window.yzMap.count());
  }

  function listen() {
    const source = new EventSource("/api/stream?kinds=occupancy,alert,gateway");
    const live = $("live-state");
    source.onopen = () => { live.dataset.i18n = "map.live"; live.textContent = t("map.live"); };
    source.onerror = () => { live.dataset.i18n = "map.reconnecting"; live.textContent = t("map.reconnecting"); };
    source.addEventListener("snapshot", (e) => {
      for (const [id, occupancy, capacity, online] of JSON.parse(e.data).stations) {
        window.yzMap.update(id, { occupancy, capacity, online });
      }
      $("shown").textContent = String(window.yzMap.count());
    });
    source.addEventListener("occupancy", (e) => {
      const change = JSON.parse(e.data);
      window.yzMap.update(change.station_id, { occupancy: change.occupancy, capacity: change.capacity });
    });
    source.addEventListener("gateway", (e) => {
      const change = JSON.parse(e.data);
      // A station is reachable while its gateway is: one gateway per station in practice.
      if (change.station_id) window.yzMap.update(change.station_id, { online: change.online });
    });
    source.addEventListener("alert", () => { loadAlerts(); });
    $("shown").textContent = String(window.yzMap.count());
  }

  // Alerts: the list is fetched again on every alert event, so two browsers agree.
  let alertRows = [];
  async function loadAlerts() {
    const answer = await api("GET", "/api/alerts?limit=200");
    if (!answer.ok) return;
    alertRows = await answer.json();
    const ids = new Set(alertRows.map((a) => a.id));
    const fresh = knownAlerts === null ? new Set() : new Set([...ids].filter((id) => !knownAlerts.has(id)));
    knownAlerts = ids;
    // A full station is shown as full, not as an alarm: its colour already says it.
    window.yzMap.setAlarms(alertRows.filter((a) => a.station_id && a.kind !== "station_full")
      .map((a) => a.station_id));
    renderAlerts(fresh);
    if (fresh.size) cue();
  }

  // A short tone for a new alert (browsers allow it once the operator has clicked on the
  // page, as at login); the row's flash and the header count are the visual cue.
  let audio = null;
  function cue() {
    window.yzCues = (window.yzCues || 0) + 1;
    try {
      audio = audio || new AudioContext();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      gain.gain.value = 0.1;
      tone.frequency.value = 880;
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.25);
    } catch (error) {
      // No audio device: the visual cue remains.
    }
  }

  function renderAlerts(fresh) {
    const body = $("alerts");
    body.replaceChildren();
    $("alerts-none").hidden = alertRows.length > 0;
    $("alert-count").textContent = alertRows.length ? String(alertRows.length) : "";
    for (const alert of alertRows) {
      const row = el("tr");
      row.dataset.alert = String(alert.id);
      row.dataset.status = alert.status;
      if (fresh && fresh.has(alert.id)) row.className = "fresh";
      row.append(el("td", alert.kind), el("td", alert.station_id || ""),
        el("td", alert.opened_at), el("td", alert.status, "status"));
      const actions = el("td");
      if (canAct()) {
        if (alert.status === "open") actions.append(action(alert.id, "acknowledge"));
        actions.append(action(alert.id, "resolve"));
      }
      row.append(actions);
      body.append(row);
    }
  }

  function action(id, verb) {
    const button = el("button", t("alerts." + verb));
    button.type = "button";
    button.dataset.action = verb;
    button.addEventListener("click", async () => {
      button.disabled = true;
      await api("POST", "/api/alerts/" + id + "/" + verb, { by: me.name });
      await loadAlerts();
    });
    return button;
  }

  // Entries: the CSV link always carries exactly the filter of the table.
  function entryQuery() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData($("entries-filter"))) {
      if (!value) continue;
      params.set(key, key === "since" || key === "until" ? new Date(value).toISOString() : value);
    }
    return params;
  }

  async function loadEntries(more) {
    const params = entryQuery();
    $("entries-csv").href = "/api/entries.csv?" + params.toString();
    params.set("limit", "100");
    if (more && entriesNext) params.set("cursor", entriesNext);
    const answer = await api("GET", "/api/entries?" + params.toString());
    const body = $("entries");
    if (!more) body.replaceChildren();
    if (!answer.ok) return;
    entriesNext = answer.headers.get("X-Next-Cursor");
    $("entries-more").hidden = !entriesNext;
    for (const entry of await answer.json()) {
      const row = el("tr");
      row.append(el("td", entry.at), el("td", entry.station_id), el("td", entry.door_id),
        el("td", entry.direction), el("td", entry.worker_id || ""),
        el("td", entry.decision), el("td", entry.reason));
      body.append(row);
    }
  }

  async function loadStation(id) {
    const answer = await api("GET", "/api/stations/" + encodeURIComponent(id));
    $("station-message").textContent = "";
    if (!answer.ok) { $("station-name").textContent = id; return; }
    const station = await answer.json();
    $("station-name").textContent = station.name + " (" + station.id + ")";
    $("station-occupancy").textContent = station.occupancy + (station.capacity ? " / " + station.capacity : "");
    const doors = $("station-doors");
    doors.replaceChildren();
    for (const door of station.doors) {
      const item = el("li", door.id + " · " + door.zone + " ");
      if (canAct()) {
        const button = el("button", t("station.unlock"));
        button.type = "button";
        button.dataset.door = door.id;
        button.addEventListener("click", () => unlock(station.id, door.id));
        item.append(button);
      }
      doors.append(item);
    }
    loadStationEntries(id);
    const gateways = $("station-gateways");
    gateways.replaceChildren();
    const health = await (await api("GET", "/api/gateways?station_id=" + encodeURIComponent(id))).json();
    for (const gateway of health) {
      gateways.append(el("li", gateway.gateway_id + " · " +
        t(gateway.online ? "station.online" : "station.offline") + " · " + (gateway.last_seen || "")));
    }
  }

  async function loadStationEntries(id) {
    const list = $("station-entries");
    list.replaceChildren();
    const answer = await api("GET", "/api/entries?limit=10&station_id=" + encodeURIComponent(id));
    if (!answer.ok) return;
    for (const entry of await answer.json()) {
      list.append(el("li", [entry.at, entry.door_id, entry.direction, entry.worker_id || "",
        t("decision." + entry.decision), entry.reason].join(" · ")));
    }
  }

  async function unlock(stationId, doorId) {
    if (!window.confirm(t("station.unlock.confirm"))) return;
    const answer = await api("POST", "/api/stations/" + encodeURIComponent(stationId) +
      "/doors/" + encodeURIComponent(doorId) + "/unlock");
    $("station-message").textContent = answer.ok ? t("station.unlock.sent") : t("error.forbidden");
  }

  start();
})();
