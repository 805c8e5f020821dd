// The worker's pass page (`/pass/<secret>`): the rotating QR code and open stations nearby.
"use strict";
// The secret is the last part of this page's address; every API call is relative to it.
const secret = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const api = "/api/pass/" + encodeURIComponent(secret);
const AHEAD = 10;          // tokens fetched beyond the current one: 5 minutes offline
const REFILL_BELOW = 8;    // fetch more once fewer future tokens than this are left
let tokens = [];           // [{token, not_before_ms, not_after_ms, qr_svg}], by not_before
let period = 30000;
let offset = 0;            // server clock minus this phone's clock, in ms
let shown = null;
let fetching = false;
let origin = null;
let lastTry = 0;           // when a refill was last attempted (phone clock, ms)

const el = (id) => document.getElementById(id);
const now = () => Date.now() + offset;

function setStatus(text, warn) {
  el("status").textContent = text;
  el("status").className = warn ? "warn" : "";
}

async function refill() {
  if (fetching) return;
  fetching = true;
  try {
    const response = await fetch(api + "/tokens?count=" + AHEAD, {cache: "no-store"});
    const body = await response.json();
    if (!response.ok) {
      tokens = [];
      setStatus((body && body.detail) || "通行码不可用 Pass not available", true);
      return;
    }
    offset = Date.parse(body.server_time) - Date.now();
    period = body.period_s * 1000;
    const fresh = body.tokens.map((t) => ({
      token: t.token, qr_svg: t.qr_svg,
      not_before_ms: Date.parse(t.not_before), not_after_ms: Date.parse(t.not_after),
    }));
    const known = new Set(fresh.map((t) => t.not_before_ms));
    tokens = tokens.filter((t) => !known.has(t.not_before_ms)).concat(fresh)
      .sort((a, b) => a.not_before_ms - b.not_before_ms);
    el("who").textContent = "编号 ID " + body.worker_id;
    setStatus("", false);
  } catch (error) {
    // No signal: keep rotating through what was fetched before.
    setStatus("离线，还可显示 " + ahead() + " 个码 · Offline, " + ahead() + " codes left", true);
  } finally {
    fetching = false;
  }
}

function ahead() {
  const t = now();
  return tokens.filter((x) => x.not_before_ms > t).length;
}

function current() {
  const t = now();
  const step = Math.floor(t / period) * period;
  // The token of this step; failing that, any token that is still valid.
  return tokens.find((x) => x.not_before_ms === step)
    || tokens.filter((x) => x.not_before_ms <= t && t < x.not_after_ms).pop()
    || null;
}

function render() {
  const t = now();
  tokens = tokens.filter((x) => x.not_after_ms > t);
  const token = current();
  const qr = el("qr");
  if (token === null) {
    qr.classList.add("stale");
    el("countdown").textContent = "请联网刷新 · Connect to get a new code";
  } else {
    if (shown !== token.token) {
      qr.innerHTML = token.qr_svg;
      qr.dataset.token = token.token;
      shown = token.token;
    }
    qr.classList.remove("stale");
    const left = Math.ceil((Math.floor(t / period) * period + period - t) / 1000);
    el("countdown").textContent = left + " 秒后更新 · new code in " + left + " s";
  }
  if (ahead() < REFILL_BELOW && Date.now() - lastTry > 10000) {
    lastTry = Date.now();
    refill().then(() => { if (current() !== token) render(); });
  }
}

function tick() {
  render();
  // Wake at the next whole second: the countdown moves and a step boundary is never late.
  setTimeout(tick, 1000 - (now() % 1000) + 5);
}

const STATUS = {
  open: "开放 · open", full: "已满 · full", offline: "离线 · offline",
};
const ORDER = {
  position: "按与您的距离 · by distance from you",
  station: "按与您的驿站的距离 · by distance from your station",
  free: "空位多的在前 · most free places first",
};

async function loadStations() {
  let url = api + "/stations";
  if (origin) url += "?lat=" + origin.lat + "&lon=" + origin.lon;
  try {
    const response = await fetch(url, {cache: "no-store"});
    if (!response.ok) return;
    const body = await response.json();
    el("order").textContent = ORDER[body.sorted_by] || "";
    const list = el("stations");
    list.replaceChildren(...body.stations.map((s) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = s.name + (s.distance_km === null ? "" : " · " + s.distance_km.toFixed(1) + " km");
      const state = document.createElement("span");
      state.className = s.status;
      const free = s.free === null ? "" : " " + s.free + " 空位 free";
      state.textContent = STATUS[s.status] + (s.status === "open" ? free : "");
      item.append(name, state);
      return item;
    }));
  } catch (error) {
    // Offline: the list shown last stays.
  }
}

el("locate").addEventListener("click", () => {
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition((position) => {
    origin = {lat: position.coords.latitude.toFixed(4), lon: position.coords.longitude.toFixed(4)};
    loadStations();
  });
});

refill().then(tick);
loadStations();
setInterval(loadStations, 60000);
