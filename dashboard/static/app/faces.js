// Station page: the persons each face terminal of the station holds by the central's
// registry (pairings not yet confirmed removed), with who, since when and the consent
// notice shown. Never a face: the central has none. The station page (app.js) says
// which station it drew with a "yz-station" event. Every value is set with textContent.
"use strict";
(function () {
  const { el } = window.yzDom;
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  let station = null, timeZone = null;

  function localTime(iso) { return window.yzDom.stationTime(iso, timeZone, "short"); }

  async function load() {
    const body = $("station-faces");
    const answer = await fetch("/api/stations/" + encodeURIComponent(station) + "/faces",
      { headers: { Accept: "application/json" }, credentials: "same-origin" });
    body.replaceChildren();
    if (!answer.ok) return;
    const pairings = await answer.json();
    $("station-faces-none").hidden = pairings.length > 0;
    for (const p of pairings) {
      const row = el("tr");
      row.dataset.terminal = p.terminal_id;
      row.dataset.person = p.person_id;
      row.append(
        el("td", p.terminal_id + " · " + p.gateway_id + (p.door_id ? " · " + p.door_id : "")),
        el("td", p.person_id),
        el("td", p.worker_id),
        el("td", localTime(p.consented_at)),
        el("td", p.notice_version),
        el("td", t("faces.state." + p.state), "face-state"),
      );
      body.append(row);
    }
  }

  document.addEventListener("yz-station", (event) => {
    station = event.detail.id;
    timeZone = event.detail.timeZone || null;
    load();
  });
  document.addEventListener("yz-language", () => { if (station) load(); });
})();
