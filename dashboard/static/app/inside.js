// Station page: the workers inside now (entries without a matching exit, see
// docs/dashboard.md), each with the time they came in, in the station's time zone. The
// station page (app.js) says which station it drew with a "yz-station" event; while the
// page stays open the list is read again every few seconds.
"use strict";
(function () {
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 5000;
  let station = null, timeZone = null;

  function timeIn(iso) { return window.yzDom.stationTime(iso, timeZone, "short"); }

  async function load() {
    if (!station) return;
    const shown = station;
    const answer = await fetch("/api/stations/" + encodeURIComponent(shown) + "/inside", { credentials: "same-origin" });
    if (!answer.ok || shown !== station) return;
    const inside = await answer.json();
    const list = $("station-inside");
    list.replaceChildren();
    $("station-inside-count").textContent = String(inside.count);
    $("station-inside-none").hidden = inside.count > 0;
    for (const worker of inside.workers) {
      const item = document.createElement("li");
      item.dataset.worker = worker.worker_id;
      item.textContent = [worker.display_name || t("inside.unknown"), worker.worker_id,
        t("inside.since") + " " + timeIn(worker.entered_at), worker.door_id].join(" · ");
      list.append(item);
    }
  }

  document.addEventListener("yz-station", (event) => {
    station = event.detail.id;
    timeZone = event.detail.timeZone;
    load();
  });
  setInterval(() => {
    if (station && !$("station-view").hidden && !document.hidden) load();
  }, REFRESH_MS);
  document.addEventListener("yz-language", load);
})();
