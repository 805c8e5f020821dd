// The occupancy map for a whole country. Stations are grouped on a grid of screen cells
// (CELL pixels at the current zoom); only the cells in view are drawn, one light element
// each, so the page holds a few hundred elements whether the network has forty stations
// or 186,000. A cell holding one station shows that station's marker; any other shows a
// cluster with its stations, people inside and how many are full, offline or alarmed.
// Live changes are queued and applied once per animation frame: a change moves its
// cell's totals by the difference (no cell is counted again) and repaints that cell
// only if it is on screen.
"use strict";
window.yzMap = (function () {
  const stations = new Map(); // id -> {id, name, lat, lon, x, y, occupancy, capacity, online, shown, state, marker}
  let placed = []; // the stations with coordinates, in load order
  const alarmed = new Set();
  // Station id -> {fire, forced, lockdown}: what its doors' gateways report now.
  const conditions = new Map();
  const CONDITIONS = ["lockdown", "forced", "fire"]; // least to most urgent
  const ALARMED = new Set(["alarm", "lockdown", "forced", "fire"]);
  const pending = new Map();
  let map, layer, frame = 0, filter = { state: "", amenity: "", district: "", text: "" };
  // Who hears of changed stations (the list beside the map, the header's totals), and
  // who hears that the view moved (the list, paged by the view).
  const listeners = [], viewListeners = [];
  let selected = null, onClick = () => {};
  // From this zoom on, markers carry the station's name under the count.
  const NAME_ZOOM = 14;
  // Screen pixels per grid cell; from SINGLE_ZOOM on every station stands alone.
  const CELL = 80, SINGLE_ZOOM = 17;
  let drawn = false, loaded = false;
  let bounds = null, fitted = false;
  // The drawn view: its grid, its cells by key, the elements on the map by item key.
  let grid = null, cells = new Map(), items = new Map(), inView = [];
  let matching = 0;
  // Moves on whenever which stations pass the filters changes; with the grid, it says
  // whether the drawn cells are still right.
  let generation = 0, drawnGrid = "";
  const totals = { online: 0, offline: 0, inside: 0 };

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

  // The station's place on the map's world at zoom 0, divided by that world's size:
  // pixels at zoom z are these × crs.scale(z). Web Mercator (Leaflet's default) is
  // computed here directly; any other CRS the map is given goes through Leaflet.
  function project(s) {
    const crs = map.options.crs;
    if (crs === L.CRS.EPSG3857) {
      s.x = (s.lon + 180) / 360;
      const sin = Math.max(-0.9999, Math.min(0.9999, Math.sin((s.lat * Math.PI) / 180)));
      s.y = 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI);
      return;
    }
    const point = crs.latLngToPoint(L.latLng(s.lat, s.lon), 0);
    const base = crs.scale(0);
    s.x = point.x / base;
    s.y = point.y / base;
  }

  // The map world's size in pixels at `zoom`.
  function worldSize(zoom) {
    return map.options.crs.scale(zoom);
  }

  function icon(s) {
    // An element, not an HTML string: station data is only ever set as text.
    const element = document.createElement("div");
    element.className = "yz-marker yz-" + s.state + (s.id === selected ? " yz-selected" : "");
    element.textContent = label(s);
    // Shown by CSS only when the map is zoomed in far enough to have room for names.
    const name = document.createElement("span");
    name.className = "yz-name";
    name.textContent = s.name || s.id;
    element.append(name);
    element.dataset.station = s.id;
    element.dataset.state = s.state;
    // Hovering names the station and its state: the colour alone does not say "lockdown".
    element.title = title(s);
    return L.divIcon({ html: element, className: "", iconSize: null, iconAnchor: [20, 11] });
  }

  function markerOf(s) {
    if (!s.marker) {
      s.marker = L.marker([s.lat, s.lon], { icon: icon(s), title: s.name, keyboard: false });
      s.marker.yzStation = s;
      s.marker.on("click", () => onClick(s.id, s.id === selected));
    }
    return s.marker;
  }

  // --- cells: totals kept by difference ---------------------------------------------

  function newCell(id) {
    return { id, n: 0, inside: 0, capacity: 0, full: 0, offline: 0, alarmed: 0,
      conditions: [0, 0, 0], sx: 0, sy: 0, minX: 1, minY: 1, maxX: 0, maxY: 0, first: null,
      marker: null, element: null, dirty: false };
  }

  // Add (sign 1) or take away (sign -1) one station's share as it stood: `part` holds
  // the occupancy, capacity and state it had then.
  function count(cell, part, sign) {
    cell.inside += sign * (part.occupancy || 0);
    cell.capacity += sign * (part.capacity || 0);
    if (part.state === "full") cell.full += sign;
    if (part.state === "offline") cell.offline += sign;
    if (ALARMED.has(part.state)) cell.alarmed += sign;
    const condition = CONDITIONS.indexOf(part.state);
    if (condition >= 0) cell.conditions[condition] += sign;
  }

  function join(cell, s) {
    cell.n += 1;
    if (!cell.first) cell.first = s;
    cell.sx += s.x; cell.sy += s.y;
    if (s.x < cell.minX) cell.minX = s.x;
    if (s.x > cell.maxX) cell.maxX = s.x;
    if (s.y < cell.minY) cell.minY = s.y;
    if (s.y > cell.maxY) cell.maxY = s.y;
    count(cell, s, 1);
  }

  function unproject(x, y, scale) {
    return map.unproject(L.point(x * scale, y * scale), grid.zoom);
  }

  function paintCluster(cell) {
    const element = cell.element;
    const ratio = cell.capacity ? cell.inside / cell.capacity : 0;
    const hue = Math.round(120 * (1 - Math.min(ratio, 1)));
    const size = cell.n < 100 ? 44 : cell.n < 1000 ? 54 : 64;
    let worst = -1;
    for (let n = 0; n < CONDITIONS.length; n += 1) if (cell.conditions[n] > 0) worst = n;
    // Only what differs is written: every write to the page costs a style pass.
    const set = (target, key, value) => { if (target[key] !== value) target[key] = value; };
    set(element, "className", "yz-cluster" + (worst >= 0 ? " yz-cluster-" + CONDITIONS[worst] : ""));
    // A cluster holding a door in lockdown, fire or forced open says so by its rim: it
    // must not hide the one marker an operator has to see.
    if (worst >= 0) set(element.dataset, "condition", CONDITIONS[worst]);
    else if ("condition" in element.dataset) delete element.dataset.condition;
    set(element.style, "background", "hsl(" + hue + ", 65%, 42%)");
    set(element.style, "width", size + "px");
    set(element.style, "height", size + "px");
    const [n, inside, flags] = element.children;
    set(n, "textContent", String(cell.n));
    set(inside, "textContent", String(cell.inside));
    const kinds = [["full", cell.full], ["offline", cell.offline], ["alarmed", cell.alarmed]];
    const wanted = kinds.filter(([, value]) => value > 0);
    if (flags.childElementCount !== wanted.length
        || wanted.some(([kind], index) => flags.children[index].dataset.kind !== kind)) {
      flags.replaceChildren(...wanted.map(([kind]) => {
        const flag = document.createElement("i");
        flag.className = "yz-flag yz-flag-" + kind;
        flag.dataset.kind = kind;
        return flag;
      }));
    }
    wanted.forEach(([, value], index) => set(flags.children[index], "textContent", String(value)));
    for (const key of ["n", "inside", "full", "offline", "alarmed"]) {
      set(element.dataset, key === "n" ? "stations" : key, String(cell[key]));
    }
    set(element, "title", window.yzI18n.t("cluster.title").replace("{stations}", cell.n)
      .replace("{inside}", cell.inside).replace("{full}", cell.full)
      .replace("{offline}", cell.offline).replace("{alarmed}", cell.alarmed));
    cell.dirty = false;
    return size;
  }

  function clusterMarker(cell) {
    const element = document.createElement("div");
    element.append(document.createElement("span"), document.createElement("span"),
      document.createElement("span"));
    element.lastChild.className = "yz-flags";
    cell.element = element;
    const size = paintCluster(cell);
    const scale = grid.scale;
    const marker = L.marker(unproject(cell.sx / cell.n, cell.sy / cell.n, scale), {
      icon: L.divIcon({ html: element, className: "", iconSize: [size, size] }), keyboard: false,
    });
    marker.on("click", () => {
      const area = L.latLngBounds(unproject(cell.minX, cell.minY, scale), unproject(cell.maxX, cell.maxY, scale));
      if (map.getZoom() >= map.getMaxZoom()) onClick(cell.first.id, false);
      else map.fitBounds(area, { padding: [40, 40], maxZoom: Math.max(map.getZoom() + 1, SINGLE_ZOOM) });
    });
    return marker;
  }

  // The grid at the map's zoom over the view (one cell of margin each side).
  function gridNow() {
    const zoom = map.getZoom();
    const scale = worldSize(zoom);
    const size = zoom >= SINGLE_ZOOM ? 1 : CELL;
    const view = map.getPixelBounds();
    const x0 = Math.floor((view.min.x - CELL) / size), x1 = Math.floor((view.max.x + CELL) / size);
    const y0 = Math.floor((view.min.y - CELL) / size), y1 = Math.floor((view.max.y + CELL) / size);
    return { zoom, scale, size, x0, x1, y0, y1, span: y1 - y0 + 1 };
  }

  // The key of the cell `s` falls in on the drawn grid; -1 outside the view.
  function keyOf(s, g) {
    const cx = Math.floor((s.x * g.scale) / g.size), cy = Math.floor((s.y * g.scale) / g.size);
    if (cx < g.x0 || cx > g.x1 || cy < g.y0 || cy > g.y1) return -1;
    return (cx - g.x0) * g.span + (cy - g.y0);
  }

  // The placed stations in STRIPS strips of equal width across their span of x, so a
  // view zoomed into one city groups the few thousand stations of the strips it covers,
  // not all of a country's: a zoom's regrouping stays a short task.
  const STRIPS = 1024;
  let strips = [], stripFrom = 0, stripWidth = 1;

  function stripOf(x) {
    return Math.max(0, Math.min(STRIPS - 1, Math.floor((x - stripFrom) / stripWidth)));
  }

  function cutStrips() {
    let low = Infinity, high = -Infinity;
    for (const s of placed) { if (s.x < low) low = s.x; if (s.x > high) high = s.x; }
    stripFrom = placed.length ? low : 0;
    stripWidth = placed.length && high > low ? (high - low) / STRIPS : 1;
    strips = Array.from({ length: STRIPS }, () => []);
    for (const s of placed) strips[stripOf(s.x)].push(s);
  }

  // Group the shown stations in view into cells and bring the map's elements in line:
  // elements of items still in view are kept, the rest removed, new ones added.
  function redraw() {
    if (!map || !loaded || !map.getSize().x) return;
    const g = gridNow();
    // The same grid over the same stations draws the same cells: a fit followed by a
    // move, or a filter set to what it was, costs nothing.
    const drawing = [g.zoom, g.x0, g.x1, g.y0, g.y1, generation].join(",");
    if (drawing === drawnGrid) return;
    drawnGrid = drawing;
    const next = new Map();
    const seen = [];
    const first = stripOf((g.x0 * g.size) / g.scale), last = stripOf(((g.x1 + 1) * g.size) / g.scale);
    const near = [];
    for (let strip = first; strip <= last; strip += 1) near.push(strips[strip]);
    for (const s of near.flat()) {
      if (!s.shown) continue;
      const key = keyOf(s, g);
      if (key < 0) continue;
      seen.push(s);
      let cell = next.get(key);
      if (!cell) {
        const cx = g.x0 + Math.floor(key / g.span), cy = g.y0 + (key % g.span);
        cell = newCell(g.zoom + "/" + cx + "/" + cy);
        next.set(key, cell);
      }
      join(cell, s);
    }
    grid = g;
    cells = next;
    inView = seen;
    const wanted = new Map();
    for (const cell of cells.values()) wanted.set(cell.n === 1 ? "s:" + cell.first.id : "c:" + cell.id, cell);
    for (const [key, marker] of items) {
      if (!wanted.has(key)) { layer.removeLayer(marker); items.delete(key); }
    }
    for (const [key, cell] of wanted) {
      const had = items.get(key);
      if (cell.n === 1) {
        const marker = markerOf(cell.first);
        if (!had) { marker.setIcon(icon(cell.first)); layer.addLayer(marker); items.set(key, marker); }
        cell.marker = marker;
      } else if (had) {
        // Same cell at the same zoom: keep its element, paint the new totals into it.
        cell.marker = had;
        cell.element = had.yzElement;
        paintCluster(cell);
      } else {
        const marker = clusterMarker(cell);
        marker.yzElement = cell.element;
        cell.marker = marker;
        layer.addLayer(marker);
        items.set(key, marker);
      }
    }
    for (const listener of viewListeners) listener();
  }

  let redrawFrame = 0;
  function redrawSoon() {
    if (!redrawFrame) redrawFrame = requestAnimationFrame(() => { redrawFrame = 0; redraw(); });
  }

  // The district is read from the address (…区, …县, …市 after the city): stations carry
  // no district field, and Chinese addresses name it in a fixed place.
  function districtOf(address) {
    const match = /(?:市|^)([^市省]{1,8}?(?:区|县|旗))/.exec(address || "");
    return match ? match[1] : "";
  }

  // Whether a station passes the filters, wherever it is drawn (map or list).
  function matches(s) {
    if (filter.state && s.state !== filter.state) return false;
    if (filter.district && s.district !== filter.district) return false;
    if (filter.amenity && !(s.amenities || []).includes(filter.amenity)) return false;
    if (filter.text) {
      const text = filter.text.toLowerCase();
      if (!(s.name || "").toLowerCase().includes(text) && !s.id.toLowerCase().includes(text)) return false;
    }
    return true;
  }

  function visible(s) {
    return s.lat !== null && s.lat !== undefined && s.lon !== null && s.lon !== undefined && matches(s);
  }

  function init(element, config) {
    map = L.map(element, {
      preferCanvas: true, zoomControl: true, maxZoom: 19, minZoom: 2,
      crs: window.yzTiles.crs(config),
    });
    window.yzTiles.addTo(map, config);
    // Without tiles the CSS background stays: markers and the scale are still true.
    L.control.scale({ metric: true, imperial: false }).addTo(map);
    layer = L.layerGroup().addTo(map);
    map.setView([35, 105], 4);
    const named = () => element.classList.toggle("yz-named", map.getZoom() >= NAME_ZOOM);
    map.on("zoomend", named);
    map.on("moveend", redraw);
    named();
  }

  function tally(s, sign) {
    if (s.online) totals.online += sign; else totals.offline += sign;
    totals.inside += sign * (s.occupancy || 0);
  }

  // `rows` are station objects (id, name, lat, lon, occupancy, capacity, online and any
  // of address/district, amenities, time_zone, last_seen).
  function load(rows, click) {
    onClick = click;
    window.yzMap.loadStarted = performance.now();
    let south = 90, west = 180, north = -90, east = -180;
    placed = [];
    for (const s of rows) {
      s.state = stateOf(s);
      if (s.district === undefined) s.district = districtOf(s.address);
      stations.set(s.id, s);
      tally(s, 1);
      if (s.lat === null || s.lon === null || s.lat === undefined || s.lon === undefined) continue;
      project(s);
      placed.push(s);
      if (s.lat < south) south = s.lat;
      if (s.lat > north) north = s.lat;
      if (s.lon < west) west = s.lon;
      if (s.lon > east) east = s.lon;
    }
    bounds = placed.length ? L.latLngBounds([south, west], [north, east]) : null;
    cutStrips();
    loaded = true;
    restamp();
    fit();
    redraw();
    // "Drawn": every cell in view is on the map and a frame has been painted after.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      drawn = true;
      window.yzMap.drawnAt = performance.now();
    }));
  }

  // Which stations pass the filters now, and how many.
  function restamp() {
    generation += 1;
    matching = 0;
    for (const s of placed) {
      s.shown = matches(s);
      if (s.shown) matching += 1;
    }
  }

  function applyFilter(next) {
    const wanted = Object.assign({ state: "", amenity: "", district: "", text: "" }, next);
    if (JSON.stringify(wanted) === JSON.stringify(filter) && loaded) return;
    filter = wanted;
    restamp();
    redraw();
  }

  function update(id, fields) {
    window.yzMap.received += 1;
    const s = stations.get(id);
    if (!s) return;
    // The stream's snapshot repeats what the load said: nothing to draw for those.
    if (!pending.has(id)) {
      let same = true;
      for (const key in fields) if (s[key] !== fields[key]) { same = false; break; }
      if (same && !("force" in fields)) return;
    }
    pending.set(id, Object.assign(pending.get(id) || {}, fields));
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    const started = performance.now();
    const touched = [];
    let regroup = false;
    for (const [id, fields] of pending) {
      const s = stations.get(id);
      if (!s) continue;
      delete fields.force;
      const before = { occupancy: s.occupancy, capacity: s.capacity, state: s.state };
      tally(s, -1);
      Object.assign(s, fields);
      s.state = stateOf(s);
      tally(s, 1);
      touched.push(s);
      if (s.x === undefined) continue;
      const shown = matches(s);
      if (shown !== s.shown) {
        // It joins or leaves the filtered set: the cells are grouped again this frame.
        s.shown = shown;
        matching += shown ? 1 : -1;
        regroup = true;
        generation += 1;
        continue;
      }
      if (!shown || !grid || regroup) continue;
      const key = keyOf(s, grid);
      const cell = key < 0 ? null : cells.get(key);
      if (!cell) continue;
      if (cell.n === 1) {
        s.marker.setIcon(icon(s));
        window.yzMap.applied += 1;
      } else {
        count(cell, before, -1);
        count(cell, s, 1);
        cell.dirty = true;
      }
    }
    pending.clear();
    if (regroup) redraw();
    else paintSoon();
    for (const listener of listeners) listener(touched);
    // Main-thread time spent applying changes, for the benchmark to report.
    window.yzMap.flushMs += performance.now() - started;
  }

  // Clusters whose totals moved are repainted at most every CLUSTER_PAINT_MS: at country
  // zoom nearly every cluster changes every frame under a thousand changes a second, and
  // a count that settles four times a second reads better than one that flickers.
  const CLUSTER_PAINT_MS = 250;
  let paintTimer = 0;
  function paintSoon() {
    if (paintTimer) return;
    paintTimer = setTimeout(() => requestAnimationFrame(() => {
      paintTimer = 0;
      for (const cell of cells.values()) {
        if (cell.dirty && cell.element) { paintCluster(cell); window.yzMap.applied += 1; }
      }
    }), CLUSTER_PAINT_MS);
  }

  function setAlarms(ids) {
    const before = new Set(alarmed);
    alarmed.clear();
    for (const id of ids) alarmed.add(id);
    for (const id of new Set([...before, ...alarmed])) update(id, { force: true });
  }

  // `flags` is {fire, forced, lockdown} for the station as a whole (any of its doors).
  function setCondition(id, flags) {
    if (flags.fire || flags.forced || flags.lockdown) conditions.set(id, flags);
    else conditions.delete(id);
    update(id, { force: true });
  }

  // The zoom at which `s` stands alone in its cell (from the current zoom up).
  function zoomAlone(s) {
    const from = map.getZoom();
    const reach = CELL / worldSize(from); // one cell at the current zoom
    const near = [];
    for (const other of placed) {
      if (other !== s && other.shown && Math.abs(other.x - s.x) < reach && Math.abs(other.y - s.y) < reach) near.push(other);
    }
    for (let zoom = Math.max(from, NAME_ZOOM); zoom < SINGLE_ZOOM; zoom += 1) {
      const scale = worldSize(zoom) / CELL;
      const cx = Math.floor(s.x * scale), cy = Math.floor(s.y * scale);
      if (!near.some((o) => Math.floor(o.x * scale) === cx && Math.floor(o.y * scale) === cy)) return zoom;
    }
    return SINGLE_ZOOM;
  }

  // One station marked as chosen, brought into view out of its cluster and centred
  // (unless `centre` is false); null clears the choice.
  function select(id, centre) {
    const before = selected ? stations.get(selected) : null;
    selected = id;
    if (before && before.marker) before.marker.setIcon(icon(before));
    const s = id ? stations.get(id) : null;
    if (!s || s.x === undefined) return;
    markerOf(s).setIcon(icon(s));
    if (centre === false || !s.shown) return;
    map.setView([s.lat, s.lon], zoomAlone(s), { animate: false });
  }

  // Titles carry the state's name: draw the elements on the map again in the new language.
  function relabel() {
    for (const cell of cells.values()) {
      if (cell.n === 1) cell.marker.setIcon(icon(cell.first));
      else if (cell.element) paintCluster(cell);
    }
  }

  return {
    init, load, update, applyFilter, setAlarms, setCondition, relabel, select, matches,
    onChange(listener) { listeners.push(listener); },
    onView(listener) { viewListeners.push(listener); },
    all() { return [...stations.values()]; },
    // The stations in view that pass the filters (the list pages by these).
    inView() { return inView; },
    get(id) {
      const s = stations.get(id);
      if (s && s.x !== undefined) markerOf(s);
      return s;
    },
    get selected() { return selected; },
    get filter() { return Object.assign({}, filter); },
    applied: 0,
    received: 0,
    flushMs: 0,
    get drawn() { return drawn; },
    // Stations that pass the filters, in view or not.
    count() { return matching; },
    totals() { return Object.assign({}, totals); },
    // The map's own view, for tests and links: centre and zoom.
    setView(lat, lon, zoom) { map.setView([lat, lon], zoom, { animate: false }); },
    view() { const c = map.getCenter(); return { lat: c.lat, lon: c.lng, zoom: map.getZoom() }; },
    station(id) {
      const s = stations.get(id);
      return s ? { id: s.id, name: s.name, state: s.state, label: label(s), occupancy: s.occupancy,
        capacity: s.capacity, online: s.online, title: title(s), time_zone: s.time_zone,
        selected: s.id === selected } : null;
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
    invalidate() { if (map) { fit(); redrawSoon(); } },
  };
})();
