// The station page's occupancy chart: an inline SVG step line drawn from
// /api/stations/{id}/occupancy/history, with no chart library (the UI must work on a
// closed network and stay small). Times are shown in the station's own time zone.
"use strict";
window.yzChart = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 760, H = 220, LEFT = 44, RIGHT = 84, TOP = 14, BOTTOM = 30;

  function node(tag, attributes, text) {
    const element = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, String(value));
    if (text !== undefined) element.textContent = String(text);
    return element;
  }

  function clock(ms, timeZone, language) {
    try {
      return new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone })
        .format(new Date(ms));
    } catch (error) {
      return new Date(ms).toISOString().slice(11, 16);
    }
  }

  // history: the API's answer; options: { t, language, timeZone }.
  function draw(container, history, options) {
    const t = options.t;
    const start = Date.parse(history.since), end = Date.parse(history.until);
    const points = history.points.map((p) => ({ at: Date.parse(p.at), n: p.occupancy, peak: p.peak }));
    const capacity = history.capacity;
    const top = Math.max(1, capacity || 0, ...points.map((p) => p.peak));
    const x = (ms) => LEFT + ((ms - start) / Math.max(1, end - start)) * (W - LEFT - RIGHT);
    const y = (n) => TOP + (1 - n / top) * (H - TOP - BOTTOM);
    const title = t("station.history");
    const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "yz-chart" });
    svg.append(node("title", {}, title));
    svg.dataset.points = String(points.length);
    svg.dataset.last = points.length ? String(points[points.length - 1].n) : "";

    // Horizontal grid with counts, and the y axis's unit.
    const ticks = [...new Set([0, Math.round(top / 2), top])];
    for (const n of ticks) {
      svg.append(node("line", { x1: LEFT, x2: W - RIGHT, y1: y(n), y2: y(n), class: "grid" }));
      svg.append(node("text", { x: LEFT - 6, y: y(n) + 4, "text-anchor": "end", class: "tick" }, n));
    }
    svg.append(node("text", { x: 4, y: TOP - 2, class: "unit" }, t("station.history.people")));
    // Time ticks every 6 hours over 24 hours (every quarter of whatever range is shown).
    for (let i = 0; i <= 4; i += 1) {
      const ms = start + ((end - start) * i) / 4;
      svg.append(node("line", { x1: x(ms), x2: x(ms), y1: TOP, y2: H - BOTTOM, class: "grid" }));
      const anchor = i === 0 ? "start" : i === 4 ? "end" : "middle";
      svg.append(node("text", { x: x(ms), y: H - BOTTOM + 18, "text-anchor": anchor, class: "tick time" },
        clock(ms, options.timeZone, options.language)));
    }
    if (capacity) {
      svg.append(node("line", { x1: LEFT, x2: W - RIGHT, y1: y(capacity), y2: y(capacity), class: "capacity" }));
      svg.append(node("text", { x: W - RIGHT + 6, y: y(capacity) + 4, class: "capacity-label" },
        t("station.history.capacity") + " " + capacity));
    }
    // The count holds from one point to the next: a step line, with the area below it.
    if (points.length) {
      let line = `M${x(points[0].at).toFixed(1)},${y(points[0].n).toFixed(1)}`;
      for (let i = 1; i < points.length; i += 1) {
        line += `H${x(points[i].at).toFixed(1)}V${y(points[i].n).toFixed(1)}`;
      }
      line += `H${x(end).toFixed(1)}`;
      const area = `${line}V${y(0).toFixed(1)}H${x(points[0].at).toFixed(1)}Z`;
      svg.append(node("path", { d: area, class: "area" }));
      // A peak above the step's end count (someone came and went within a minute).
      for (const p of points) {
        if (p.peak > p.n) svg.append(node("line", { x1: x(p.at), x2: x(p.at), y1: y(p.n), y2: y(p.peak), class: "peak" }));
      }
      svg.append(node("path", { d: line, class: "line" }));
      const last = points[points.length - 1];
      svg.append(node("text", { x: W - RIGHT + 6, y: y(last.n) + 4, class: "now" }, last.n));
    }
    container.replaceChildren(svg);
    if (points.length < 2) {
      const note = document.createElement("figcaption");
      note.dataset.i18n = "station.history.none";
      note.textContent = t("station.history.none");
      container.append(note);
    }
  }

  return { draw };
})();
