// The occupancy map: one light divIcon marker per station in a cluster group whose
// icons show how full each cluster is. Live changes are queued and applied once per
// animation frame, so a burst of updates costs one redraw.
"use strict";
window.yzMap = (function () {
  const stations = new Map(); // id -> {id, name, lat, lon, occupancy, capacity, online, amenities, marker, state}
  const alarmed = new Set();
  // Station id -> {fire, forced, lockdown}: what its doors' gateways report now.
  const conditions = new Map();
  const CONDITIONS = ["lockdown", "forced", "fire"]; // least to most urgent
  const pending = new Map();
  let map, cluster, frame = 0, filter = { state: "", amenity: "", district: "" };
  let drawn = false;
  let chunkDone = () => {};
  let bounds = null, fitted = false;

  // Fit to the stations once the map has a size (it has none while its view is hidden).
  function fit() {
    map.invalidateSize();
    if (fitted || !bounds || !map.getSize().x) return;
    fitted = true;
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15, animate: false });
  }

  function stateOf(s) {
    // A door's condition outranks everything: a fire release or a forced door is what an
    // operator must look at first, and a station in lockdown turns everyone away.
    const condition = conditions.get(s.id);
    if (condition && condition.fire) return "fire";
    if (condition && condition.forced) return "forced";
    if (condition && condition.lockdown) return "lockdown";
    // Then an open alert.
    if (alarmed.has(s.id)) return "alarm";
    if (!s.online) return "offline";
    if (s.capacity && s.occupancy >= s.capacity) return "full";
    if (s.capacity && s.occupancy >= 0.7 * s.capacity) return "busy";
    return "space";
  }

  function label(s) {
    return s.capacity ? s.occupancy + "/" + s.capacity : String(s.occupancy);
  }

  function title(s) {
    return (s.name || s.id) + " · " + window.yzI18n.t("state." + s.state);
  }

  function icon(s) {
    // An element, not an HTML string: station data is only ever set as text.
    const element = document.createElement("div");
    element.className = "yz-marker yz-" + s.state;
    element.textContent = label(s);
    element.dataset.station = s.id;
    element.dataset.state = s.state;
    // Hovering names the station and its state: the colour alone does not say "lockdown".
    element.title = title(s);
    return L.divIcon({ html: element, className: "", iconSize: null, iconAnchor: [20, 11] });
  }

  function clusterIcon(group) {
    let occupancy = 0, capacity = 0, worst = -1;
    for (const marker of group.getAllChildMarkers()) {
      const s = marker.yzStation;
      occupancy += s.occupancy;
      capacity += s.capacity || 0;
      worst = Math.max(worst, CONDITIONS.indexOf(s.state));
    }
    const ratio = capacity ? occupancy / capacity : 0;
    const hue = Math.round(120 * (1 - Math.min(ratio, 1)));
    const count = group.getChildCount();
    const size = count < 100 ? 40 : count < 1000 ? 50 : 60;
    const element = document.createElement("div");
    element.className = "yz-cluster";
    // A cluster holding a door in lockdown, fire or forced open says so by its rim: it
    // must not hide the one marker an operator has to see.
    if (worst >= 0) {
      element.dataset.condition = CONDITIONS[worst];
      element.classList.add("yz-cluster-" + CONDITIONS[worst]);
    }
    element.style.background = "hsl(" + hue + ", 65%, 42%)";
    element.style.width = element.style.height = size + "px";
    const n = document.createElement("span");
    n.textContent = String(count);
    const pct = document.createElement("span");
    pct.textContent = Math.round(ratio * 100) + "%";
    element.append(n, pct);
    return L.divIcon({ html: element, className: "", iconSize: [size, size] });
  }

  // The district is read from the address (…区, …县, …市 after the city): stations carry
  // no district field, and Chinese addresses name it in a fixed place.
  function districtOf(address) {
    const match = /(?:市|^)([^市省]{1,8}?(?:区|县|旗))/.exec(address || "");
    return match ? match[1] : "";
  }

  function visible(s) {
    if (filter.state && s.state !== filter.state) return false;
    if (filter.district && s.district !== filter.district) return false;
    if (filter.amenity && !(s.amenities || []).includes(filter.amenity)) return false;
    return s.lat !== null && s.lon !== null;
  }

  function init(element, config) {
    map = L.map(element, { preferCanvas: true, zoomControl: true, maxZoom: 19, minZoom: 2 });
    if (config.tile_url) {
      L.tileLayer(config.tile_url, { maxZoom: 19, attribution: config.tile_attribution || "" })
        .addTo(map);
    }
    // Without tiles the CSS background stays: markers and the scale are still true.
    L.control.scale({ metric: true, imperial: false }).addTo(map);
    cluster = L.markerClusterGroup({
      chunkedLoading: true,
      chunkInterval: 100,
      chunkProgress: (processed, total) => chunkDone(processed, total),
      showCoverageOnHover: false,
      iconCreateFunction: clusterIcon,
    });
    map.addLayer(cluster);
    map.setView([35, 105], 4);
  }

  function load(rows, onClick) {
    const markers = [];
    for (const row of rows) {
      const s = Object.assign({}, row);
      s.state = stateOf(s);
      s.district = districtOf(s.address);
      if (s.lat === null || s.lon === null) { stations.set(s.id, s); continue; }
      s.marker = L.marker([s.lat, s.lon], { icon: icon(s), title: s.name, keyboard: false });
      s.marker.yzStation = s;
      s.marker.on("click", () => onClick(s.id));
      stations.set(s.id, s);
      markers.push(s.marker);
    }
    bounds = markers.length ? L.latLngBounds(markers.map((m) => m.getLatLng())) : null;
    fit();
    const shown = markers.filter((m) => visible(m.yzStation));
    // "Drawn": every marker is in the cluster layer and a frame has been painted after.
    window.yzMap.loadStarted = performance.now();
    chunkDone = (processed, total) => {
      if (processed < total) return;
      requestAnimationFrame(() => requestAnimationFrame(() => {
        drawn = true;
        window.yzMap.drawnAt = performance.now();
      }));
    };
    if (!shown.length) chunkDone(0, 0);
    cluster.addLayers(shown);
  }

  function applyFilter(next) {
    filter = next;
    cluster.clearLayers();
    const keep = [];
    for (const s of stations.values()) if (s.marker && visible(s)) keep.push(s.marker);
    cluster.addLayers(keep);
  }

  function update(id, fields) {
    window.yzMap.received += 1;
    pending.set(id, Object.assign(pending.get(id) || {}, fields));
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    const changed = [];
    for (const [id, fields] of pending) {
      const s = stations.get(id);
      if (!s) continue;
      Object.assign(s, fields);
      const state = stateOf(s);
      if (!s.marker) continue;
      const wasVisible = visible(s);
      s.state = state;
      s.marker.setIcon(icon(s));
      const nowVisible = visible(s);
      if (wasVisible && !nowVisible) cluster.removeLayer(s.marker);
      else if (!wasVisible && nowVisible) cluster.addLayer(s.marker);
      else changed.push(s.marker);
    }
    pending.clear();
    if (changed.length) cluster.refreshClusters(changed);
    window.yzMap.applied += changed.length;
  }

  function setAlarms(ids) {
    const before = new Set(alarmed);
    alarmed.clear();
    for (const id of ids) alarmed.add(id);
    for (const id of new Set([...before, ...alarmed])) update(id, {});
  }

  // `flags` is {fire, forced, lockdown} for the station as a whole (any of its doors).
  function setCondition(id, flags) {
    if (flags.fire || flags.forced || flags.lockdown) conditions.set(id, flags);
    else conditions.delete(id);
    update(id, {});
  }

  // Titles carry the state's name: draw every marker again in the new language.
  function relabel() {
    for (const s of stations.values()) if (s.marker) s.marker.setIcon(icon(s));
  }

  return {
    init, load, update, applyFilter, setAlarms, setCondition, relabel,
    applied: 0,
    received: 0,
    get drawn() { return drawn; },
    count() { return cluster ? cluster.getLayers().length : 0; },
    station(id) {
      const s = stations.get(id);
      return s ? { id: s.id, state: s.state, label: label(s), occupancy: s.occupancy, title: title(s) } : null;
    },
    districts() {
      const all = new Set();
      for (const s of stations.values()) if (s.district) all.add(s.district);
      return [...all].sort();
    },
    amenities() {
      const all = new Set();
      for (const s of stations.values()) for (const a of s.amenities || []) all.add(a);
      return [...all].sort();
    },
    invalidate() { if (map) fit(); },
  };
})();
