// The station list beside the map: the stations in the map's view (or, for a search,
// anywhere) that pass the map's filters (yzMap owns them), sortable by any column, one
// row per station, at most LIMIT rows. A live change redraws only the rows
// of the stations it touched; the order is kept until the operator sorts or filters
// again, so rows do not jump under the pointer. Choosing a row chooses the marker, and
// the other way round. All data is set with textContent.
"use strict";
window.yzList = (function () {
  const t = (key) => window.yzI18n.t(key);
  const LIMIT = 200; // rows drawn at once; zooming in, the filters and the search narrow the rest
  const rows = new Map(); // station id -> its <tr>
  let body, note, none, onChoose = () => {}, alertCount = new Map();
  let sort = { key: "name", descending: false };

  function ratio(s) { return s.capacity ? s.occupancy / s.capacity : s.occupancy ? 1 : 0; }

  const KEYS = {
    // Kept on the station: the list compares names hundreds of thousands of times.
    name: (s) => s.sortName || (s.sortName = (s.name || s.id).toLowerCase()),
    district: (s) => s.district || "",
    occupancy: ratio,
    state: (s) => s.state,
    last_seen: (s) => s.last_seen || "",
    alerts: (s) => alertCount.get(s.id) || 0,
  };

  // Formatters are costly to make and rows are filled many times a second: one per
  // language, zone and form.
  const formats = new Map();
  const FORMS = {
    time: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
    day: { month: "numeric", day: "numeric" },
    date: { year: "numeric", month: "numeric", day: "numeric" },
    full: { dateStyle: "medium", timeStyle: "short", hourCycle: "h23" },
  };
  function formatted(form, zone, date) {
    const key = window.yzI18n.language + " " + form + " " + zone;
    let format = formats.get(key);
    if (!format) {
      format = new Intl.DateTimeFormat(window.yzI18n.language, Object.assign({ timeZone: zone || undefined }, FORMS[form]));
      formats.set(key, format);
    }
    return format.format(date);
  }

  // The last time seen, short enough for a narrow column: the time when it was today in
  // the station's zone, else the day; the full date and time in the cell's title.
  function lastSeen(s) {
    if (!s.last_seen) return ["", ""];
    try {
      const date = new Date(s.last_seen);
      const today = formatted("date", s.time_zone, new Date()) === formatted("date", s.time_zone, date);
      return [formatted(today ? "time" : "day", s.time_zone, date), formatted("full", s.time_zone, date)];
    } catch (error) {
      return [s.last_seen, s.last_seen];
    }
  }

  function fill(row, s) {
    row.dataset.state = s.state;
    const [name, district, occupancy, state, seen, alerts] = row.children;
    name.firstChild.textContent = s.name || s.id;
    district.textContent = s.district || "";
    occupancy.textContent = s.capacity ? s.occupancy + " / " + s.capacity : String(s.occupancy);
    state.replaceChildren();
    const swatch = document.createElement("span");
    swatch.className = "yz-dot yz-" + s.state;
    state.append(swatch, "\u00a0" + t("state." + s.state)); // the dot stays with its word
    [seen.textContent, seen.title] = lastSeen(s);
    const count = alertCount.get(s.id) || 0;
    alerts.textContent = count ? String(count) : "";
    row.classList.toggle("selected", s.id === window.yzMap.selected);
  }

  function make(s) {
    const row = document.createElement("tr");
    row.dataset.station = s.id;
    const name = document.createElement("td");
    const label = document.createElement("button");
    label.type = "button";
    label.className = "link";
    label.addEventListener("click", () => onChoose(s.id, true));
    const open = document.createElement("a");
    open.href = "#station/" + encodeURIComponent(s.id);
    open.className = "open";
    open.textContent = "\u2197";
    open.title = t("list.open");
    name.append(label, " ", open);
    row.append(name);
    for (let n = 0; n < 5; n += 1) row.append(document.createElement("td"));
    fill(row, s);
    return row;
  }

  // Draw the list again in the current order and filter.
  function render() {
    if (!body) return;
    const key = KEYS[sort.key] || KEYS.name;
    const compare = (a, b) => {
      const x = key(a), y = key(b);
      const order = x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
      return sort.descending ? -order : order;
    };
    // Paged by the map's view: the stations in view, or, for a search, every station
    // that matches (finding one anywhere is what the search is for). The chosen station
    // keeps its row wherever the map is.
    const map = window.yzMap;
    const shown = map.filter.text ? map.all().filter(map.matches) : map.inView().slice();
    const chosen = map.selected ? map.get(map.selected) : null;
    if (chosen && map.matches(chosen) && !shown.includes(chosen)) shown.push(chosen);
    rows.clear();
    const drawn = first(shown, compare, LIMIT).map((s) => { const row = make(s); rows.set(s.id, row); return row; });
    body.replaceChildren(...drawn);
    none.hidden = shown.length > 0;
    note.hidden = shown.length <= LIMIT;
    note.textContent = t("list.more").replace("{shown}", String(LIMIT)).replace("{total}", String(shown.length));
    for (const th of document.querySelectorAll("#station-list th[data-sort]")) {
      th.setAttribute("aria-sort", th.dataset.sort === sort.key ? (sort.descending ? "descending" : "ascending") : "none");
    }
  }

  // The first `limit` of `stations` in `compare`'s order, without sorting them all: a
  // country's stations are 186,000, a page is a few hundred.
  function first(stations, compare, limit) {
    const kept = [];
    for (const s of stations) {
      if (kept.length === limit && compare(s, kept[limit - 1]) >= 0) continue;
      let low = 0, high = kept.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (compare(s, kept[middle]) < 0) high = middle; else low = middle + 1;
      }
      kept.splice(low, 0, s);
      if (kept.length > limit) kept.pop();
    }
    return kept;
  }

  // Stations the live stream changed: their rows in place; one that no longer passes the
  // filters is hidden, one that now passes waits for the next render (sort or filter).
  // Rows are written at most every ROW_PAINT_MS: each write lays the table out again, and
  // under a thousand changes a second a row that changes four times a second is as live.
  const ROW_PAINT_MS = 250;
  const touched = new Set();
  let paintTimer = 0;
  function changed(stations) {
    for (const s of stations) if (rows.has(s.id)) touched.add(s);
    if (!touched.size || paintTimer) return;
    paintTimer = setTimeout(() => requestAnimationFrame(() => {
      paintTimer = 0;
      for (const s of touched) {
        const row = rows.get(s.id);
        if (!row) continue;
        fill(row, s);
        row.hidden = !window.yzMap.matches(s);
      }
      touched.clear();
    }), ROW_PAINT_MS);
  }

  function init(handlers) {
    body = document.getElementById("station-rows");
    note = document.getElementById("list-more");
    none = document.getElementById("list-none");
    onChoose = handlers.choose;
    for (const th of document.querySelectorAll("#station-list th[data-sort]")) {
      th.addEventListener("click", () => {
        const descending = sort.key === th.dataset.sort ? !sort.descending : false;
        setSort(th.dataset.sort, descending);
        handlers.sorted(sort);
      });
    }
    window.yzMap.onChange(changed);
    // The view moved: the list pages by it, once per frame however often it moves.
    let frame = 0;
    window.yzMap.onView(() => {
      if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); });
    });
  }

  function setSort(key, descending) {
    sort = { key: KEYS[key] ? key : "name", descending: Boolean(descending) };
    render();
  }

  // The chosen station's row is marked and scrolled to; `null` clears the mark.
  function select(id) {
    for (const row of body.querySelectorAll("tr.selected")) row.classList.remove("selected");
    const row = id ? rows.get(id) : null;
    if (row) {
      row.classList.add("selected");
      row.scrollIntoView({ block: "nearest" });
    }
  }

  // Open alerts per station, from the alerts list.
  function setAlerts(alerts) {
    alertCount = new Map();
    for (const alert of alerts) {
      if (alert.station_id) alertCount.set(alert.station_id, (alertCount.get(alert.station_id) || 0) + 1);
    }
    for (const [id, row] of rows) {
      const s = window.yzMap.get(id);
      if (s) fill(row, s);
    }
  }

  return {
    init, render, select, setSort, setAlerts,
    get sort() { return Object.assign({}, sort); },
    count() { return body ? [...body.children].filter((row) => !row.hidden).length : 0; },
  };
})();
