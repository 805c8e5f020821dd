// The reports page (#reports): figures for the union office per station or district, by
// day, week or month in the station's time zone, from /api/reports. Draws the table, the
// busy-hours heat map (an inline SVG, no chart library), for a district each station's
// totals, and the workers' reports and suggestions per station and category beside the
// visits; the CSV and Excel links ask the API for the same report in the page's language.
// All data is set with textContent, never as HTML.
"use strict";
window.yzReports = (function () {
  const { el } = window.yzDom;
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  let shown = null;
  let started = false;

  function node(tag, attributes, text) {
    const element = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, String(value));
    if (text !== undefined) element.textContent = String(text);
    return element;
  }

  const iso = (day) => day.toISOString().slice(0, 10);

  function start() {
    if (started) return;
    started = true;
    const today = new Date();
    const form = $("reports-form");
    form.elements.from.value = iso(new Date(Date.UTC(today.getFullYear(), today.getMonth(), 1)));
    form.elements.to.value = iso(new Date(Date.UTC(today.getFullYear(), today.getMonth(), today.getDate())));
    form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
    document.addEventListener("yz-language", () => { links(); if (shown) draw(shown); });
  }

  function query() {
    const form = new FormData($("reports-form"));
    const params = new URLSearchParams();
    for (const name of ["scope", "id", "period", "from", "to"]) params.set(name, String(form.get(name) || "").trim());
    return params;
  }

  function links() {
    const params = query();
    params.set("lang", window.yzI18n.language);
    $("reports-csv").href = "/api/reports.csv?" + params;
    $("reports-xlsx").href = "/api/reports.xlsx?" + params;
  }

  async function load() {
    links();
    $("reports-message").textContent = "";
    const answer = await fetch("/api/reports?" + query(), { credentials: "same-origin" });
    if (!answer.ok) {
      let detail = String(answer.status);
      try { detail = (await answer.json()).detail; } catch (error) { /* not JSON */ }
      $("reports-message").textContent = detail;
      $("reports-result").hidden = true;
      return;
    }
    shown = await answer.json();
    draw(shown);
  }

  const minutes = (seconds) => (seconds === null ? "" : (Math.round(seconds / 6) / 10).toFixed(1));

  function cells(row, report) {
    return [row.visits, row.unique_workers, row.stays, minutes(row.stay_median_s), minutes(row.stay_p90_s),
      row.refused, ...report.reasons.map((reason) => row.refused_by_reason[reason] || 0)];
  }

  function draw(report) {
    $("reports-result").hidden = false;
    $("reports-zones").textContent = report.time_zones.join(", ");
    const head = $("reports-head");
    head.replaceChildren();
    const titles = [t("reports.col.period"), t("reports.col.visits"), t("reports.col.unique"),
      t("reports.col.stays"), t("reports.col.median"), t("reports.col.p90"), t("reports.col.refused"),
      ...report.reasons.map((reason) => t("reason." + reason))];
    titles.forEach((title, i) => head.append(el("th", title, i ? "num" : "")));
    const body = $("reports-table");
    body.replaceChildren();
    for (const row of [...report.rows, report.total]) {
      const line = el("tr", undefined, row.period === "total" ? "total" : "");
      line.dataset.period = row.period;
      line.append(el("td", row.period === "total" ? t("reports.total") : row.period));
      for (const value of cells(row, report)) line.append(el("td", value, "num"));
      body.append(line);
    }
    $("reports-none").hidden = report.total.visits + report.total.refused > 0;
    heatMap($("reports-heat"), report.heat_map);
    const stations = $("reports-stations");
    stations.replaceChildren();
    $("reports-stations-part").hidden = report.scope !== "district";
    for (const station of report.stations) {
      const line = el("tr");
      line.append(el("td", station.name), el("td", station.station_id),
        el("td", station.visits, "num"), el("td", station.unique_workers, "num"), el("td", station.refused, "num"));
      stations.append(line);
    }
    feedback(report);
  }

  const FEEDBACK_HEAD = ["reports.col.name", "reports.station_id", "feedback.category", "reports.col.visits",
    "reports.fb.problems", "reports.fb.resolved", "reports.fb.resolve_median", "reports.fb.suggestions",
    "reports.fb.answered", "reports.fb.answer_median"];

  const hours = (seconds) => (seconds === null ? "" : (Math.round(seconds / 360) / 10).toFixed(1));

  // One line of the feedback table: all categories (with the visits beside) or one.
  function feedbackLine(name, stationId, category, visits, part, className) {
    const line = el("tr", undefined, className);
    line.dataset.station = stationId || "";
    line.dataset.category = category;
    line.append(el("td", name), el("td", stationId || ""),
      el("td", category === "all" ? t("reports.fb.all") : t("feedback.category." + category)),
      el("td", visits === null ? "" : visits, "num"));
    for (const handled of [part.problems, part.suggestions]) {
      line.append(el("td", handled.made, "num"), el("td", handled.closed, "num"), el("td", hours(handled.median_s), "num"));
    }
    return line;
  }

  // Workers' reports and suggestions: each station of a district with its categories,
  // then the whole report's line and every category.
  function feedback(report) {
    const head = $("reports-feedback-head");
    head.replaceChildren(...FEEDBACK_HEAD.map((key, i) => el("th", t(key), i > 2 ? "num" : "")));
    const body = $("reports-feedback");
    body.replaceChildren();
    const made = report.feedback;
    if (!made) return;
    for (const station of made.stations) {
      body.append(feedbackLine(station.name, station.station_id, "all", station.visits, station, "station"));
      for (const c of station.categories) body.append(feedbackLine(station.name, station.station_id, c.category, null, c, ""));
    }
    const name = report.scope === "station" ? (report.stations[0] || {}).name || report.id : report.id;
    const scopeId = report.scope === "station" ? report.id : "";
    body.append(feedbackLine(name, scopeId, "all", made.visits, made, "total"));
    for (const c of made.categories) body.append(feedbackLine(name, scopeId, c.category, null, c, ""));
  }

  // Visits by weekday (rows, Monday first) and hour (columns): darker is busier.
  function heatMap(container, heat) {
    const CELL = 30, ROW = 22, LEFT = 44, TOP = 16;
    const top = Math.max(1, ...heat.flat());
    const svg = node("svg", { viewBox: `0 0 ${LEFT + 24 * CELL} ${TOP + 7 * ROW}`, role: "img",
      "aria-label": t("reports.heat_map"), class: "yz-heat" });
    svg.append(node("title", {}, t("reports.heat_map")));
    for (let hour = 0; hour < 24; hour += 1) {
      svg.append(node("text", { x: LEFT + hour * CELL + CELL / 2, y: TOP - 4, "text-anchor": "middle", class: "label" },
        String(hour).padStart(2, "0")));
    }
    heat.forEach((hours, day) => {
      svg.append(node("text", { x: LEFT - 6, y: TOP + day * ROW + ROW / 2 + 4, "text-anchor": "end", class: "label" },
        t("reports.weekday." + day)));
      hours.forEach((count, hour) => {
        const light = 97 - Math.round((count / top) * 62);
        const cell = node("rect", { x: LEFT + hour * CELL, y: TOP + day * ROW, width: CELL, height: ROW,
          class: "cell", fill: `hsl(211, 70%, ${light}%)` });
        cell.dataset.day = String(day);
        cell.dataset.hour = String(hour);
        cell.dataset.count = String(count);
        cell.append(node("title", {}, `${t("reports.weekday." + day)} ${String(hour).padStart(2, "0")}:00 · ${count}`));
        svg.append(cell);
      });
    });
    container.replaceChildren(svg);
  }

  function open() {
    start();
    links();
  }

  return { open, load };
})();
