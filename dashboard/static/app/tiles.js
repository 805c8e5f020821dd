// The map's base layer, as the central's `http.tiles` preset chose it (/ui/config.json
// "tiles"): which tile layers to draw and in which coordinate reference system.
//
// Stations are stored in WGS-84. AutoNavi (and other Chinese services) draw their tiles
// in GCJ-02, an offset datum: on those tiles a WGS-84 point lands 300-600 m off. So for a
// GCJ-02 base map the map gets a CRS whose projection shifts every WGS-84 position into
// GCJ-02 before Web Mercator: markers, bounds and clicks all stay in WGS-84, and only the
// drawing moves. The shift is the same transform as dashboard/core/gcj02.py, which the
// tests compare this one with.
"use strict";
window.yzTiles = (function () {
  const SEMI_MAJOR_M = 6378245.0; // Krasovsky 1940
  const ECCENTRICITY_SQ = 0.00669342162296594323;

  function inChina(lat, lon) {
    return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
  }

  function latOffset(x, y) {
    const pi = Math.PI;
    let out = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    out += (20 * Math.sin(6 * pi * x) + 20 * Math.sin(2 * pi * x)) * 2 / 3;
    out += (20 * Math.sin(pi * y) + 40 * Math.sin(pi * y / 3)) * 2 / 3;
    out += (160 * Math.sin(pi * y / 12) + 320 * Math.sin(pi * y / 30)) * 2 / 3;
    return out;
  }

  function lonOffset(x, y) {
    const pi = Math.PI;
    let out = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    out += (20 * Math.sin(6 * pi * x) + 20 * Math.sin(2 * pi * x)) * 2 / 3;
    out += (20 * Math.sin(pi * x) + 40 * Math.sin(pi * x / 3)) * 2 / 3;
    out += (150 * Math.sin(pi * x / 12) + 300 * Math.sin(pi * x / 30)) * 2 / 3;
    return out;
  }

  // [lat, lon] in WGS-84 -> [lat, lon] in GCJ-02; unchanged outside China.
  function wgsToGcj(lat, lon) {
    if (!inChina(lat, lon)) return [lat, lon];
    const x = lon - 105, y = lat - 35;
    const phi = lat * Math.PI / 180;
    const w = 1 - ECCENTRICITY_SQ * Math.sin(phi) * Math.sin(phi);
    const meridianRadius = SEMI_MAJOR_M * (1 - ECCENTRICITY_SQ) / (w * Math.sqrt(w));
    const parallelRadius = SEMI_MAJOR_M / Math.sqrt(w) * Math.cos(phi);
    return [
      lat + latOffset(x, y) / meridianRadius * 180 / Math.PI,
      lon + lonOffset(x, y) / parallelRadius * 180 / Math.PI,
    ];
  }

  // The inverse, by fixed-point iteration: the shift varies slowly, a few rounds suffice.
  function gcjToWgs(lat, lon) {
    if (!inChina(lat, lon)) return [lat, lon];
    let wLat = lat, wLon = lon;
    for (let round = 0; round < 10; round++) {
      const [gLat, gLon] = wgsToGcj(wLat, wLon);
      const eLat = gLat - lat, eLon = gLon - lon;
      wLat -= eLat;
      wLon -= eLon;
      if (Math.abs(eLat) < 1e-9 && Math.abs(eLon) < 1e-9) break;
    }
    return [wLat, wLon];
  }

  let gcjCrs = null;
  function gcj02Crs() {
    if (gcjCrs) return gcjCrs;
    const mercator = L.Projection.SphericalMercator;
    const projection = {
      R: mercator.R,
      bounds: mercator.bounds,
      project(latlng) {
        const [lat, lon] = wgsToGcj(latlng.lat, latlng.lng);
        return mercator.project(L.latLng(lat, lon));
      },
      unproject(point) {
        const gcj = mercator.unproject(point);
        const [lat, lon] = gcjToWgs(gcj.lat, gcj.lng);
        return L.latLng(lat, lon);
      },
    };
    gcjCrs = L.extend({}, L.CRS.EPSG3857, { code: "GCJ02", projection });
    return gcjCrs;
  }

  // The base map part of the UI config; an older central sends only tile_url.
  function baseOf(config) {
    if (config.tiles) return config.tiles;
    const layers = config.tile_url
      ? [{ url: config.tile_url, subdomains: "abc", attribution: config.tile_attribution || "", max_zoom: 19 }]
      : [];
    return { preset: layers.length ? "custom" : "none", datum: "wgs84", layers };
  }

  // The CRS for L.map's options.
  function crs(config) {
    return baseOf(config).datum === "gcj02" ? gcj02Crs() : L.CRS.EPSG3857;
  }

  // Adds the preset's layers, bottom first; without any the CSS background stays.
  function addTo(map, config) {
    const added = [];
    for (const layer of baseOf(config).layers) {
      const options = { maxZoom: 19, maxNativeZoom: layer.max_zoom, attribution: layer.attribution || "" };
      if (layer.subdomains) options.subdomains = layer.subdomains;
      added.push(L.tileLayer(layer.url, options).addTo(map));
    }
    return added;
  }

  return { crs, addTo, wgsToGcj, gcjToWgs, inChina };
})();
