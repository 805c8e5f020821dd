// The operator UI: login, hash routes (#map, #alerts, #entries, #workers, #reports,
// #feedback, #station/<id>), the live stream, and the actions a role allows. All data is
// set with textContent, never as HTML.
// The map's and the entries' filters live in the hash's query (#map?state=full&station=x,
// #entries?station=五一), so a reload or a shared link shows the same view.
"use strict";
(function () {
  const { csrf, el } = window.yzDom;
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  const views = ["login-view", "map-view", "alerts-view", "entries-view", "station-view", "workers-view", "reports-view", "feedback-view"];
  let me = null, mapReady = false, knownAlerts = null, entriesNext = null, shownStation = null;
  let stationHistory = null;
  let prefetched = null; // the stations, asked for as the page starts

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
    // The stations are asked for at once, beside the config, the words and the session:
    // for a country's network they are the longest wait. Without a session the answer
    // is refused and the map asks again after login.
    prefetched = loadStations(true).catch(() => null);
    const config = await (await fetch("/ui/config.json")).json();
    await window.yzI18n.use(window.yzI18n.language);
    $("lang").value = window.yzI18n.language;
    $("lang").addEventListener("change", (e) => window.yzI18n.use(e.target.value));
    // Values from the API (kinds, reasons, states) are translated when drawn: draw again.
    document.addEventListener("yz-language", () => {
      renderAlerts();
      window.yzMap.relabel();
      window.yzList.render();
      renderCommands();
      if (me) route();
    });
    $("alerts-resolved").addEventListener("change", loadAlerts);
    $("login").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("filter-state").addEventListener("change", refilter);
    $("filter-amenity").addEventListener("change", refilter);
    $("filter-district").addEventListener("change", refilter);
    $("filter-text").addEventListener("input", refilter);
    $("entries-filter").addEventListener("submit", (e) => {
      e.preventDefault();
      setQuery("#entries", entryQuery());
      loadEntries(false);
    });
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
      const rows = (await prefetched) || await loadStations(false);
      prefetched = null;
      // A marker's first click chooses the station; a click on the chosen one opens it.
      window.yzMap.load(rows, (id, again) => {
        if (again) location.hash = "#station/" + encodeURIComponent(id);
        else choose(id, false);
      });
      const amenities = $("filter-amenity");
      for (const amenity of window.yzMap.amenities()) {
        const option = new Option(amenity, amenity);
        option.dataset.i18n = "amenity." + amenity;
        amenities.append(option);
      }
      const districts = $("filter-district");
      for (const district of window.yzMap.districts()) districts.append(new Option(district, district));
      const names = $("station-names");
      // A datalist of a country's stations would weigh more than the map: names are
      // offered for a network of a city or two.
      if (rows.length <= 5000) for (const row of rows) names.append(new Option(row.id, row.name));
      window.yzI18n.apply(amenities);
      window.yzList.init({
        choose,
        sorted: () => setQuery("#map", mapQuery()),
      });
      const inView = () => { $("in-view").textContent = String(window.yzMap.inView().length); };
      window.yzMap.onView(inView);
      inView();
      restoreMap();
      $("totals").hidden = false;
      window.yzMap.onChange(() => renderTotals());
      await Promise.all([loadAlerts(), loadOverview()]);
      listen();
      // The station day rolls over at midnight: its count is read again now and then.
      setInterval(loadOverview, 300000);
    }
  }

  // Every station as one object: its description (/api/stations/map, kept by the
  // browser's cache while the registry holds) and its live columns (/api/stations/live),
  // fetched together. The live columns follow the description's order; if a station was
  // described between the two answers, both are asked again.
  // `early`: before the session is known, so a refusal is no reason to show the login.
  async function loadStations(early) {
    const get = async (path) => {
      const answer = early ? await fetch(path, { credentials: "same-origin" }) : await api("GET", path);
      if (!answer.ok) throw new Error(path + ": " + answer.status);
      return answer;
    };
    for (let attempt = 0; ; attempt += 1) {
      const [described, version, live] = await Promise.all([
        get("/api/stations/map").then(async (answer) => [await answer.json(), answer.headers.get("ETag")]),
        get("/api/stations/live").then((answer) => answer.json()),
      ]).then(([[body, etag], live]) => [body, (etag || "").replace(/"/g, ""), live]);
      // The stream's snapshot and changes correct anything a third race would leave.
      if ((live.version === version && live.count === described.count) || attempt >= 2) {
        return stationsOf(described, live);
      }
    }
  }

  function stationsOf(described, live) {
    const tables = described.tables;
    const rows = new Array(described.count);
    for (let n = 0; n < described.count; n += 1) {
      rows[n] = {
        id: described.id[n], name: described.name[n], lat: described.lat[n], lon: described.lon[n],
        occupancy: live.occupancy[n] || 0, capacity: live.capacity[n] ?? null, online: live.online[n] === 1,
        last_seen: live.last_seen[n] ?? null, district: tables.district[described.district[n]],
        amenities: tables.amenities[described.amenities[n]], time_zone: tables.time_zone[described.time_zone[n]],
      };
    }
    return rows;
  }

  // The query of the hash (`#entries?station=x` -> station=x).
  function hashQuery() {
    const hash = location.hash || "#map";
    const at = hash.indexOf("?");
    return new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
  }

  function hashPath() {
    const hash = location.hash || "#map";
    const at = hash.indexOf("?");
    return at < 0 ? hash : hash.slice(0, at);
  }

  // Keep a view's state in the address without a navigation (no hashchange, no history).
  function setQuery(path, params) {
    const query = params.toString();
    history.replaceState(null, "", path + (query ? "?" + query : ""));
  }

  function route() {
    if (!me) return showLogin();
    const path = hashPath();
    if (path.startsWith("#station/")) { show("station-view"); loadStation(decodeURIComponent(path.slice(9))); }
    else if (path === "#alerts") show("alerts-view");
    else if (path === "#entries") { show("entries-view"); restoreEntries(); loadEntries(false); }
    // workers.js draws the view.
    else if (path === "#workers") { show("workers-view"); document.dispatchEvent(new CustomEvent("yz-workers", { detail: { role: me.role } })); }
    else if (path === "#reports") { show("reports-view"); window.yzReports.open(); }
    else if (path === "#feedback") { show("feedback-view"); document.dispatchEvent(new CustomEvent("yz-feedback")); }
    else { show("map-view"); if (mapReady && window.yzMap.selected) window.yzMap.select(window.yzMap.selected); }
  }

  const MAP_FILTERS = { state: "filter-state", district: "filter-district", amenity: "filter-amenity", q: "filter-text" };

  function mapQuery() {
    const params = new URLSearchParams();
    for (const [key, id] of Object.entries(MAP_FILTERS)) if ($(id).value) params.set(key, $(id).value);
    const sort = window.yzList.sort;
    if (sort.key !== "name" || sort.descending) params.set("sort", (sort.descending ? "-" : "") + sort.key);
    if (window.yzMap.selected) params.set("station", window.yzMap.selected);
    return params;
  }

  // The map's filters, sort and chosen station as the address says (a reload, a link).
  function restoreMap() {
    const params = hashPath() === "#map" || !location.hash ? hashQuery() : new URLSearchParams();
    for (const [key, id] of Object.entries(MAP_FILTERS)) $(id).value = params.get(key) || "";
    const sort = params.get("sort") || "name";
    window.yzList.setSort(sort.replace(/^-/, ""), sort.startsWith("-"));
    refilter(true);
    const station = params.get("station");
    if (station && window.yzMap.get(station)) choose(station, true);
  }

  function refilter(keepAddress) {
    window.yzMap.applyFilter({
      state: $("filter-state").value,
      amenity: $("filter-amenity").value,
      district: $("filter-district").value,
      text: $("filter-text").value.trim(),
    });
    $("shown").textContent = String(window.yzMap.count());
    window.yzList.render();
    if (keepAddress !== true && hashPath() === "#map") setQuery("#map", mapQuery());
  }

  // One station chosen, in the list and on the map (centred there); kept in the address.
  function choose(id, centre) {
    window.yzMap.select(id, centre);
    window.yzList.select(id);
    if (hashPath() === "#map" || !location.hash) setQuery("#map", mapQuery());
  }

  // The header's totals: stations online and offline and people inside from the map's
  // live state; entries today and open alerts from /api/overview, kept current by the
  // stream (an entry counts at once; an alert change reads the overview again).
  const overview = { entries_today: 0, open_alerts: 0, time_zones: [] };
  async function loadOverview() {
    const answer = await api("GET", "/api/overview");
    if (!answer.ok) return;
    Object.assign(overview, await answer.json());
    renderTotals();
  }

  function renderTotals() {
    const { online, offline, inside } = window.yzMap.totals();
    $("total-online").textContent = String(online);
    $("total-offline").textContent = String(offline);
    $("total-inside").textContent = String(inside);
    $("total-entries").textContent = String(overview.entries_today);
    $("total-alerts").textContent = String(overview.open_alerts);
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
    const source = new EventSource("/api/stream?kinds=occupancy,alert,gateway,door,condition,command,entry");
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
      if (change.station_id) {
        window.yzMap.update(change.station_id, { online: change.online, last_seen: change.last_seen });
      }
    });
    source.addEventListener("alert", () => {
      loadAlerts();
      loadOverview();
      document.dispatchEvent(new CustomEvent("yz-alerts"));
    });
    source.addEventListener("entry", (e) => {
      const entry = JSON.parse(e.data);
      if (entry.decision === "granted" && entry.direction === "in") {
        overview.entries_today += 1;
        renderTotals();
      }
      if (!$("entries-view").hidden) entriesArrived();
    });
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
    window.yzList.setAlerts(alertRows);
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
    // Every alert event redraws the list: a note being typed survives it, with its focus.
    const typed = new Map();
    for (const input of body.querySelectorAll("tr[data-alert] input[name=note]")) {
      if (input.value || input === document.activeElement) {
        typed.set(input.closest("tr").dataset.alert, {
          value: input.value, focused: input === document.activeElement,
          start: input.selectionStart, end: input.selectionEnd,
        });
      }
    }
    body.replaceChildren();
    $("alerts-none").hidden = alertRows.length > 0;
    $("alert-count").textContent = alertRows.length ? String(alertRows.length) : "";
    for (const alert of [...alertRows, ...resolvedRows]) {
      const row = el("tr");
      row.dataset.alert = String(alert.id);
      row.dataset.status = alert.status;
      row.dataset.kind = alert.kind;
      if (fresh && fresh.has(alert.id)) row.className = "fresh";
      const station = alert.station_id ? window.yzMap.get(alert.station_id) : null;
      const where = el("td", station ? station.name : alert.station_id || "");
      if (alert.station_id) where.title = alert.station_id;
      const kind = el("td", t("alert.kind." + alert.kind));
      // Openings of a flapping condition joined into this one alert.
      if (alert.repeats > 1) kind.append(" ", el("span", t("alerts.repeats").replace("{count}", String(alert.repeats)), "repeats"));
      row.append(kind, where,
        el("td", [alert.gateway_id, alert.subject].filter(Boolean).join(" · ")),
        el("td", localTime(alert.opened_at, station ? station.time_zone : undefined)),
        el("td", t("alert.status." + alert.status), "status"));
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
        const kept = typed.get(row.dataset.alert);
        if (kept) input.value = kept.value;
        actions.append(input);
        if (alert.status === "open") actions.append(action(alert.id, "acknowledge", input));
        actions.append(action(alert.id, "resolve", input));
      }
      row.append(actions);
      body.append(row);
    }
    for (const [id, kept] of typed) {
      const input = body.querySelector(`tr[data-alert="${id}"] input[name=note]`);
      if (input && kept.focused) {
        input.focus();
        input.setSelectionRange(kept.start, kept.end);
      }
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

  // Times come as UTC from the API and are shown in the station's own zone (as the brief
  // says for what people read), on its page, in the entries and in the alerts alike; the
  // browser's zone only for what belongs to no station.
  function localTime(iso, timeZone) { return window.yzDom.stationTime(iso, timeZone); }

  // Entries: the CSV link always carries exactly the filter of the table. The times typed
  // in From and Until are wall-clock times of the stations' zone when they all share one
  // (the usual case), else of this browser.
  function entryZone() {
    return overview.time_zones.length === 1 ? overview.time_zones[0] : undefined;
  }

  // The UTC instant of a wall-clock time ("2026-12-01T08:00") in `timeZone`.
  function zonedInstant(local, timeZone) {
    if (!timeZone) return new Date(local);
    const [date, time] = local.split("T");
    const [y, m, d] = date.split("-").map(Number);
    const [hh, mm] = (time || "00:00").split(":").map(Number);
    const guess = Date.UTC(y, m - 1, d, hh, mm);
    const offset = (at) => {
      const parts = {};
      for (const part of new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23",
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      }).formatToParts(new Date(at))) parts[part.type] = part.value;
      return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute) - at;
    };
    const first = guess - offset(guess);
    return new Date(guess - offset(first));
  }

  function entryQuery() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData($("entries-filter"))) {
      if (value) params.set(key, value);
    }
    return params;
  }

  // The filter as the API reads it: From and Until as UTC instants.
  function entryApiQuery() {
    const params = entryQuery();
    for (const key of ["since", "until"]) {
      if (params.get(key)) params.set(key, zonedInstant(params.get(key), entryZone()).toISOString());
    }
    return params;
  }

  function restoreEntries() {
    const params = hashQuery();
    for (const element of $("entries-filter").elements) {
      if (element.name) element.value = params.get(element.name) || "";
    }
  }

  // A live entry: the first page is read again (at most a few times a second), unless
  // the operator has paged further down, where rows must not move.
  let entriesTimer = 0, entriesPaged = false;
  function entriesArrived() {
    if (entriesPaged || entriesTimer) return;
    entriesTimer = setTimeout(() => { entriesTimer = 0; loadEntries(false, true); }, 300);
  }

  function zoneNote(rows) {
    const zones = new Set(rows.map((r) => r.time_zone));
    if (!zones.size) for (const zone of overview.time_zones) zones.add(zone);
    const note = $("entries-tz");
    if (zones.size === 1) {
      note.textContent = t("entries.tz").replace("{zone}", [...zones][0]);
    } else {
      note.textContent = t("entries.tz_mixed");
    }
  }

  let entryRows = [];
  async function loadEntries(more, live) {
    const params = entryApiQuery();
    const csv = new URLSearchParams(params);
    csv.set("lang", window.yzI18n.language);
    $("entries-csv").href = "/api/entries.csv?" + csv.toString();
    params.set("limit", "100");
    if (more && entriesNext) params.set("cursor", entriesNext);
    const answer = await api("GET", "/api/entries?" + params.toString());
    const body = $("entries");
    if (!answer.ok) { if (!more) { body.replaceChildren(); entryRows = []; } return; }
    const rows = await answer.json();
    if (!more) {
      const known = new Set(entryRows.map((r) => r.event_id));
      entryRows = [];
      body.replaceChildren();
      entriesPaged = false;
      if (live) rows.forEach((r) => { r.fresh = !known.has(r.event_id); });
    } else {
      entriesPaged = true;
    }
    entriesNext = answer.headers.get("X-Next-Cursor");
    $("entries-more").hidden = !entriesNext;
    for (const entry of rows) {
      const row = el("tr");
      row.dataset.reason = entry.reason;
      row.dataset.event = entry.event_id;
      if (entry.fresh) row.className = "fresh";
      const station = el("td", entry.station_name || entry.station_id);
      station.title = entry.station_id;
      const worker = el("td", entry.worker_name || entry.worker_id || "");
      if (entry.worker_id) worker.title = entry.worker_id;
      row.append(el("td", localTime(entry.at, entry.time_zone), "at"), station, el("td", entry.door_id),
        el("td", t("direction." + entry.direction)), worker,
        el("td", t("decision." + entry.decision)), el("td", t("reason." + entry.reason)));
      body.append(row);
    }
    entryRows = entryRows.concat(rows);
    $("entries-none").hidden = entryRows.length > 0;
    zoneNote(entryRows);
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
