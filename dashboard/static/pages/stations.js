// The plain station list at `/`: every station's occupancy, refreshed every 2 s.
"use strict";
function stateOf(s) {
  if (!s.online) return ["offline", "offline · 离线"];
  if (s.capacity !== null && s.occupancy >= s.capacity) return ["full", "full · 已满"];
  if (s.capacity !== null && s.occupancy >= 0.8 * s.capacity) return ["busy", "busy · 较满"];
  return ["space", "space · 有空位"];
}
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
async function refresh() {
  try {
    const response = await fetch("/api/stations");
    // The list needs an operator's session: send whoever is not logged in to the login.
    if (response.status === 401) { location.replace("/ui/"); return; }
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    const stations = await response.json();
    const body = document.getElementById("stations");
    body.replaceChildren();
    for (const s of stations) {
      const tr = document.createElement("tr");
      tr.dataset.station = s.id;
      const [cls, label] = stateOf(s);
      tr.append(cell(s.name), cell(String(s.occupancy), "num"),
                cell(s.capacity === null ? "–" : String(s.capacity), "num"));
      const state = cell("");
      const badge = document.createElement("span");
      badge.className = "state " + cls;
      badge.textContent = label;
      state.append(badge);
      tr.append(state, cell(s.lat === null ? "–" : s.lat.toFixed(4) + ", " + s.lon.toFixed(4)));
      body.append(tr);
    }
    document.getElementById("status").textContent =
      stations.length + " stations · updated " + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById("status").textContent = "Cannot reach the central service: " + err.message;
  }
}
refresh();
setInterval(refresh, 2000);
