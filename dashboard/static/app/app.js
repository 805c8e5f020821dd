// The operator UI: login, hash routes (#map, #alerts, #entries, #station/<id>), the live
// stream, and the actions a role allows. All data is set with textContent, never as HTML.
"use strict";
(function () {
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  const views = ["login-view", "map-view", "alerts-view", "entries-view", "station-view"];
  let me = null, mapReady = false, knownAlerts = null, entriesNext = null, shownStation = null;
  let stationHistory = null;

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
    // Values from the API (kinds, reasons, states) are translated when drawn: draw again.
    document.addEventListener("yz-language", () => {
      renderAlerts();
      window.yzMap.relabel();
      renderCommands();
      if (me) route();
    });
    $("alerts-resolved").addEventListener("change", loadAlerts);
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

  // Every door's last state: from the live stream's snapshot, then from its door events.
  const doorStates = new Map();

  function showDoorStates(stationId) {
    for (const state of document.querySelectorAll("#station-doors [data-door-state]")) {
      const known = doorStates.get(stationId + "/" + state.dataset.doorState);
      if (known === undefined) continue;
      state.dataset.i18n = "door.state." + known;
      state.textContent = t("door.state." + known);
    }
  }

  function showDoorAlarms(stationId) {
    for (const alarms of document.querySelectorAll("#station-doors [data-door-alarms]")) {
      alarms.replaceChildren();
      for (const alert of alertRows) {
        if (alert.station_id === stationId && alert.subject === alarms.dataset.doorAlarms) {
          alarms.append(el("span", t("alert.kind." + alert.kind), "door-alarm"), " ");
        }
      }
    }
  }

  // Doors in lockdown, under a fire release or forced open, by "station/gateway/door":
  // from the stream's snapshot and its condition events, and from the station page's API.
  const doorConditions = new Map();
  const CONDITIONS = ["fire", "forced_open", "lockdown"];

  function applyCondition(condition) {
    const key = condition.station_id + "/" + condition.gateway_id + "/" + condition.door_id;
    if (CONDITIONS.some((name) => condition[name])) doorConditions.set(key, condition);
    else doorConditions.delete(key);
  }

  function conditionsOf(stationId) {
    return [...doorConditions.values()].filter((c) => c.station_id === stationId);
  }

  function showConditions(stationId) {
    const doors = conditionsOf(stationId);
    window.yzMap.setCondition(stationId, {
      fire: doors.some((c) => c.fire),
      forced: doors.some((c) => c.forced_open),
      lockdown: doors.some((c) => c.lockdown),
    });
    if (stationId === shownStation) showBanner(stationId);
  }

  // The station page's banner: one line per condition, naming its doors.
  function showBanner(stationId) {
    const banner = $("station-banner");
    banner.replaceChildren();
    const doors = conditionsOf(stationId);
    for (const name of CONDITIONS) {
      const ids = doors.filter((c) => c[name]).map((c) => c.door_id);
      if (!ids.length) continue;
      const line = el("p", t("condition." + name) + ": " + ids.join(", "), "condition");
      line.dataset.condition = name;
      banner.append(line);
    }
    banner.hidden = banner.childElementCount === 0;
  }

  function listen() {
    const source = new EventSource("/api/stream?kinds=occupancy,alert,gateway,door,condition,command");
    const live = $("live-state");
    source.onopen = () => { live.dataset.i18n = "map.live"; live.textContent = t("map.live"); };
    source.onerror = () => { live.dataset.i18n = "map.reconnecting"; live.textContent = t("map.reconnecting"); };
    source.addEventListener("snapshot", (e) => {
      const snapshot = JSON.parse(e.data);
      for (const [id, occupancy, capacity, online] of snapshot.stations) {
        window.yzMap.update(id, { occupancy, capacity, online });
      }
      for (const door of snapshot.doors || []) doorStates.set(door.station_id + "/" + door.door_id, door.state);
      // The snapshot holds every door with a condition: any other has none now.
      const before = new Set([...doorConditions.values()].map((c) => c.station_id));
      doorConditions.clear();
      for (const condition of snapshot.conditions || []) applyCondition(condition);
      for (const id of new Set([...before, ...[...doorConditions.values()].map((c) => c.station_id)])) showConditions(id);
      if (shownStation && !$("station-view").hidden) showDoorStates(shownStation);
      $("shown").textContent = String(window.yzMap.count());
    });
    source.addEventListener("occupancy", (e) => {
      const change = JSON.parse(e.data);
      window.yzMap.update(change.station_id, { occupancy: change.occupancy, capacity: change.capacity });
      if (change.station_id === shownStation && !$("station-view").hidden) stationCount(change);
    });
    source.addEventListener("gateway", (e) => {
      const change = JSON.parse(e.data);
      // A station is reachable while its gateway is: one gateway per station in practice.
      if (change.station_id) window.yzMap.update(change.station_id, { online: change.online });
    });
    source.addEventListener("alert", () => { loadAlerts(); });
    source.addEventListener("condition", (e) => {
      const condition = JSON.parse(e.data);
      applyCondition(condition);
      showConditions(condition.station_id);
    });
    source.addEventListener("command", (e) => { settled(JSON.parse(e.data)); });
    source.addEventListener("door", (e) => {
      const change = JSON.parse(e.data);
      doorStates.set(change.station_id + "/" + change.door_id, change.state);
      if (change.station_id === shownStation && !$("station-view").hidden) showDoorStates(shownStation);
    });
    $("shown").textContent = String(window.yzMap.count());
  }

  // Alerts: the list is fetched again on every alert event, so two browsers agree.
  let alertRows = [], resolvedRows = [];
  async function loadAlerts() {
    const answer = await api("GET", "/api/alerts?limit=200");
    if (!answer.ok) return;
    alertRows = await answer.json();
    resolvedRows = [];
    if ($("alerts-resolved").checked) {
      const resolved = await api("GET", "/api/alerts?status=resolved&limit=50");
      if (resolved.ok) resolvedRows = await resolved.json();
    }
    const ids = new Set(alertRows.map((a) => a.id));
    const fresh = knownAlerts === null ? new Set() : new Set([...ids].filter((id) => !knownAlerts.has(id)));
    knownAlerts = ids;
    // A full station is shown as full, not as an alarm: its colour already says it.
    window.yzMap.setAlarms(alertRows.filter((a) => a.station_id && a.kind !== "station_full")
      .map((a) => a.station_id));
    renderAlerts(fresh);
    if (shownStation && !$("station-view").hidden) showDoorAlarms(shownStation);
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
    for (const alert of [...alertRows, ...resolvedRows]) {
      const row = el("tr");
      row.dataset.alert = String(alert.id);
      row.dataset.status = alert.status;
      row.dataset.kind = alert.kind;
      if (fresh && fresh.has(alert.id)) row.className = "fresh";
      row.append(el("td", t("alert.kind." + alert.kind)), el("td", alert.station_id || ""),
        el("td", [alert.gateway_id, alert.subject].filter(Boolean).join(" · ")),
        el("td", localTime(alert.opened_at)), el("td", t("alert.status." + alert.status), "status"));
      const notes = el("td", undefined, "notes");
      for (const [note, by] of [[alert.acknowledged_note, alert.acknowledged_by],
        [alert.resolved_note, alert.resolved_by]]) {
        if (note) notes.append(el("div", by + ": " + note, "note"));
      }
      row.append(notes);
      const actions = el("td");
      if (canAct() && alert.status !== "resolved") {
        const input = el("input");
        input.name = "note";
        input.maxLength = 500;
        input.placeholder = t("alerts.note.placeholder");
        input.setAttribute("aria-label", t("alerts.note"));
        actions.append(input);
        if (alert.status === "open") actions.append(action(alert.id, "acknowledge", input));
        actions.append(action(alert.id, "resolve", input));
      }
      row.append(actions);
      body.append(row);
    }
  }

  function action(id, verb, input) {
    const button = el("button", t("alerts." + verb));
    button.type = "button";
    button.dataset.action = verb;
    button.addEventListener("click", async () => {
      button.disabled = true;
      const note = input.value.trim();
      await api("POST", "/api/alerts/" + id + "/" + verb, note ? { note } : {});
      await loadAlerts();
    });
    return button;
  }

  // Times come as UTC from the API. A station page shows them in the station's own zone
  // (as the brief says for what people read); lists across stations in the browser's.
  function localTime(iso, timeZone) {
    if (!iso) return "";
    const options = { dateStyle: "short", timeStyle: "medium", hourCycle: "h23" };
    if (timeZone) options.timeZone = timeZone;
    try {
      return new Intl.DateTimeFormat(window.yzI18n.language, options).format(new Date(iso));
    } catch (error) {
      return iso;
    }
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
      row.dataset.reason = entry.reason;
      row.append(el("td", localTime(entry.at)), el("td", entry.station_id), el("td", entry.door_id),
        el("td", t("direction." + entry.direction)), el("td", entry.worker_id || ""),
        el("td", t("decision." + entry.decision)), el("td", t("reason." + entry.reason)));
      body.append(row);
    }
  }

  async function loadStation(id) {
    const answer = await api("GET", "/api/stations/" + encodeURIComponent(id));
    $("station-message").textContent = "";
    if (!answer.ok) { $("station-name").textContent = id; return; }
    const station = await answer.json();
    shownStation = station.id;
    showBanner(station.id);
    loadConditions(station.id);
    loadCommands(station.id);
    $("station-name").textContent = station.name + " (" + station.id + ")";
    $("station-occupancy").textContent = station.occupancy + (station.capacity ? " / " + station.capacity : "");
    loadHistory(station);
    loadSensors(station);
    const doors = $("station-doors");
    doors.replaceChildren();
    for (const door of station.doors) {
      const item = el("li", door.id + " · " + t("zone." + door.zone) + " ");
      // Its last state, kept up to date by the live stream while the page is open.
      const state = el("span", "", "door-state");
      state.dataset.doorState = door.id;
      item.append(state, " ");
      // Its open alarms (held open, forced, tamper ...), drawn again whenever the alerts
      // list arrives: on first load it may come after the station.
      const alarms = el("span", "", "door-alarms");
      alarms.dataset.doorAlarms = door.id;
      item.append(alarms, " ");
      if (canAct()) {
        for (const command of ["unlock", "lock", "lockdown_on", "lockdown_off"]) {
          const button = commandButton(station.id, command, { door_id: door.id });
          button.dataset.door = door.id;
          item.append(button, " ");
        }
      }
      doors.append(item);
    }
    showDoorStates(station.id);
    showDoorAlarms(station.id);
    loadStationEntries(id, station.time_zone);
    const gateways = $("station-gateways");
    gateways.replaceChildren();
    const health = await (await api("GET", "/api/gateways?station_id=" + encodeURIComponent(id))).json();
    const known = new Set(health.map((g) => g.gateway_id));
    // A gateway the station names but that has never spoken can still be asked.
    for (const id of station.gateways || []) {
      if (!known.has(id)) health.push({ gateway_id: id, online: false, last_seen: null });
    }
    for (const gateway of health) {
      const item = el("li", gateway.gateway_id + " · " +
        t(gateway.online ? "station.online" : "station.offline") + " · " +
        localTime(gateway.last_seen, station.time_zone) + " ");
      item.dataset.gateway = gateway.gateway_id;
      if (canAct()) {
        for (const command of ["ping", "self_test", "restart"]) {
          item.append(commandButton(station.id, command, { gateway_id: gateway.gateway_id }), " ");
        }
      }
      gateways.append(item);
    }
    // provisioning.js adds its controls for admins; policy.js draws the station's policy.
    document.dispatchEvent(new CustomEvent("yz-station", { detail: { id: station.id, role: me.role, timeZone: station.time_zone } }));
  }

  async function loadStationEntries(id, timeZone) {
    const list = $("station-entries");
    list.replaceChildren();
    const answer = await api("GET", "/api/entries?limit=10&station_id=" + encodeURIComponent(id));
    if (!answer.ok) return;
    for (const entry of await answer.json()) {
      list.append(el("li", [localTime(entry.at, timeZone), entry.door_id, t("direction." + entry.direction),
        entry.worker_id || "", t("decision." + entry.decision), t("reason." + entry.reason)].join(" · ")));
    }
  }

  // The last 24 hours as a chart, in the station's own time zone.
  async function loadHistory(station) {
    const answer = await api("GET", "/api/stations/" + encodeURIComponent(station.id) + "/occupancy/history");
    if (!answer.ok) return;
    stationHistory = { history: await answer.json(), timeZone: station.time_zone };
    drawHistory();
  }

  function drawHistory() {
    window.yzChart.draw($("station-chart"), stationHistory.history,
      { t, language: window.yzI18n.language, timeZone: stationHistory.timeZone });
  }

  // A live count change on the open station page: the number, and the chart's line now
  // (the server writes the minute's sample later; the next visit fetches it).
  function stationCount(change) {
    $("station-occupancy").textContent = change.occupancy + (change.capacity ? " / " + change.capacity : "");
    if (!stationHistory || stationHistory.history.station_id !== change.station_id) return;
    const history = stationHistory.history;
    const now = new Date().toISOString();
    history.points.push({ at: now, occupancy: change.occupancy, peak: change.occupancy });
    history.until = now;
    history.capacity = change.capacity;
    drawHistory();
  }

  // A reading is a small object ({"present": true}, {"lock": "secured", "open": false}):
  // each key and each known value is translated, numbers and unknown words are shown as sent.
  function reading(values, timeZone) {
    const parts = [];
    for (const [key, value] of Object.entries(values)) {
      let shown;
      if (value === true) shown = t("reading.yes");
      else if (value === false) shown = t("reading.no");
      else if (value === null) shown = t("reading.unknown");
      else if (key === "since") shown = localTime(value, timeZone);
      else if (key === "lock") shown = t("lock." + value);
      else shown = String(value);
      parts.push(t("reading." + key) + ": " + shown);
    }
    return parts.join(", ");
  }

  async function loadSensors(station) {
    const answer = await api("GET", "/api/stations/" + encodeURIComponent(station.id) + "/sensors");
    const body = $("station-sensors");
    body.replaceChildren();
    if (!answer.ok) return;
    const sensors = await answer.json();
    $("station-sensors-none").hidden = sensors.length > 0;
    for (const sensor of sensors) {
      const row = el("tr");
      row.dataset.sensor = sensor.sensor_id;
      row.dataset.kind = sensor.kind;
      const status = sensor.silent ? "sensor.silent" : sensor.ok === null ? "sensor.unknown"
        : sensor.ok ? "sensor.ok" : "sensor.not_ok";
      row.append(el("td", sensor.sensor_id + (sensor.gateway_id ? " · " + sensor.gateway_id : "")),
        el("td", t("sensor.kind." + sensor.kind)), el("td", reading(sensor.reading, station.time_zone), "reading"),
        el("td", localTime(sensor.read_at, station.time_zone)), el("td", t(status), "sensor-status " + status.replace(".", "-")));
      body.append(row);
    }
  }

  async function loadConditions(stationId) {
    const answer = await api("GET", "/api/stations/" + encodeURIComponent(stationId) + "/conditions");
    if (!answer.ok) return;
    for (const [key, condition] of doorConditions) {
      if (condition.station_id === stationId) doorConditions.delete(key);
    }
    for (const condition of await answer.json()) applyCondition(condition);
    showConditions(stationId);
  }

  // Commands by request id, oldest first: one sent from this page shows "sent" until its
  // outcome arrives on the live stream (or, should the stream be down, from the API once
  // the gateway's time to answer is over).
  const commands = new Map();
  const CONFIRM = new Set(["unlock", "lockdown_on", "lockdown_off", "self_test", "restart"]);

  // The station's latest commands, whoever sent them, so the next shift sees them too.
  async function loadCommands(stationId) {
    renderCommands();
    const answer = await api("GET", "/api/stations/" + encodeURIComponent(stationId) + "/commands");
    if (!answer.ok) return;
    for (const command of (await answer.json()).reverse()) {
      // What the stream told this page meanwhile is as new or newer.
      const known = commands.get(command.request_id);
      if (!known || known.outcome === "pending") commands.set(command.request_id, command);
    }
    renderCommands();
  }

  function commandButton(stationId, command, target) {
    const button = el("button", t("command." + command));
    button.type = "button";
    button.dataset.command = command;
    button.addEventListener("click", () => sendCommand(stationId, command, target));
    return button;
  }

  async function sendCommand(stationId, command, target) {
    if (CONFIRM.has(command) && !window.confirm(t("command.confirm." + command))) return;
    const answer = await api("POST", "/api/stations/" + encodeURIComponent(stationId) + "/commands",
      Object.assign({ command }, target));
    if (!answer.ok) {
      const body = await answer.json().catch(() => ({}));
      $("station-message").textContent = answer.status === 403 ? t("error.forbidden")
        : t("command." + command) + ": " + (body.detail || answer.status);
      return;
    }
    const sent = await answer.json();
    // The outcome may have come on the stream before this answer did.
    const early = commands.get(sent.request_id);
    commands.set(sent.request_id, Object.assign(sent, early || {}));
    renderCommands();
    setTimeout(() => checkOutcome(sent.request_id), sent.answer_within_s * 1000 + 5000);
  }

  async function checkOutcome(requestId) {
    const known = commands.get(requestId);
    if (!known || known.outcome !== "pending") return;
    const answer = await api("GET", "/api/commands/" + encodeURIComponent(requestId));
    if (answer.ok) settled(await answer.json());
    if (commands.get(requestId).outcome === "pending") setTimeout(() => checkOutcome(requestId), 5000);
  }

  // Outcomes of every operator's commands arrive; the station page lists those of its
  // station (the newest 50 kept).
  function settled(outcome) {
    commands.set(outcome.request_id, Object.assign(commands.get(outcome.request_id) || {}, outcome));
    while (commands.size > 50) commands.delete(commands.keys().next().value);
    if (outcome.station_id === shownStation) renderCommands();
  }

  function outcomeText(command) {
    if (command.outcome === "refused") return t("command.outcome.refused") + ": " + command.message;
    if (command.outcome === "no_answer") {
      return t("command.outcome.no_answer").replace("{seconds}", String(command.answer_within_s));
    }
    return t("command.outcome." + command.outcome);
  }

  function renderCommands() {
    const list = $("station-commands");
    list.replaceChildren();
    let last = null;
    // Oldest first: every command of one central has the same time to answer.
    const shown = [...commands.values()].filter((c) => c.station_id === shownStation && c.command)
      .sort((a, b) => (a.answer_by < b.answer_by ? -1 : a.answer_by > b.answer_by ? 1 : 0));
    for (const command of shown) {
      const what = t("command." + command.command) + " " + (command.door_id || command.gateway_id);
      const item = el("li", what + ": " + outcomeText(command));
      item.dataset.request = command.request_id;
      item.dataset.command = command.command;
      item.dataset.outcome = command.outcome;
      list.append(item);
      last = item;
    }
    $("station-message").textContent = last ? last.textContent : "";
  }

  start();
})();
