// Station page: the station's policy (capacity, hours, door times) and where each gateway
// stands with it (applied, pending since when, refused and why, drifted), for every role.
// Admins also edit the policy and settle a drift: adopt the gateway's value into the
// policy, or push the policy back to the gateway. The station page (app.js) says which
// station it drew with a "yz-station" event. Every value is set with textContent.
"use strict";
(function () {
  const { csrf, el } = window.yzDom;
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  const FIELDS = ["capacity", "opening_hours", "unlock_s", "held_open_s"];
  const RECHECK_MS = 1000;
  const RECHECKS = 30;
  let station = null, admin = false, timeZone = null, shown = null, rechecks = 0, timer = null;

  function base() { return "/api/stations/" + encodeURIComponent(station) + "/policy"; }

  function localTime(iso) { return window.yzDom.stationTime(iso, timeZone); }

  // A gateway's value as people read it: "24h" and a list of windows as hours.
  function valueText(value) {
    if (value === null || value === undefined) return t("policy.unset");
    if (value === "24h") return t("policy.all_day");
    if (Array.isArray(value)) return value.join(", ");
    return String(value);
  }

  // The policy field a gateway key belongs to, and the key's value in that field's terms.
  function fieldOf(key) {
    if (key === "policy.capacity") return "capacity";
    if (key === "policy.hours") return "opening_hours";
    if (key.endsWith(".unlock_s")) return "unlock_s";
    if (key.endsWith(".held_open_s")) return "held_open_s";
    return null;
  }

  function asPolicyValue(field, value) {
    if (field !== "opening_hours") return value;
    // The policy holds one daily window; all day is the field left out.
    if (value === "24h" || value === null) return null;
    return Array.isArray(value) ? value[0] : value;
  }

  function say(text) { $("policy-message").textContent = text; }

  // A 422 lists every problem; other refusals have one line.
  async function problemOf(answer) {
    let body = {};
    try { body = await answer.json(); } catch (error) { body = {}; }
    if (answer.status === 403) return t("error.forbidden");
    const lines = (body.errors || []).map((e) =>
      (e.where ? String(e.where).replace(/^body\.?/, "") + ": " : "") + e.problem);
    return t("policy.failed") + ": " + (lines.length ? lines.join("; ") : body.detail || answer.status);
  }

  async function put(policy) {
    if (!window.confirm(t("policy.confirm"))) return;
    const answer = await fetch(base(), {
      method: "PUT",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/json" },
      body: JSON.stringify(policy),
    });
    if (!answer.ok) { say(await problemOf(answer)); return; }
    say(t("policy.sent"));
    rechecks = RECHECKS;
    draw(await answer.json());
  }

  async function load() {
    const asked = station;
    const answer = await fetch(base(), { credentials: "same-origin" });
    if (!answer.ok || asked !== station) return;
    draw(await answer.json());
  }

  function gatewayText(state) {
    if (state.status === "pending") return t("policy.status.pending") + " " + localTime(state.since);
    if (state.status === "refused") {
      const reasons = Object.entries(state.refused).map(([key, why]) => key + ": " + why);
      return t("policy.status.refused") + ": " + reasons.join("; ");
    }
    return t("policy.status.applied");
  }

  function driftItem(key, values) {
    const item = el("li", t("policy.drift") + " " + key + ": " + t("policy.registry") + " " +
      valueText(values.registry) + " · " + t("policy.gateway") + " " + valueText(values.gateway) + " ");
    item.dataset.driftKey = key;
    const field = fieldOf(key);
    if (!admin || field === null) return item;
    const adopt = el("button", t("policy.adopt"));
    adopt.type = "button";
    adopt.dataset.policyAction = "adopt";
    adopt.addEventListener("click", () => {
      const policy = Object.assign({}, shown.policy);
      const value = asPolicyValue(field, values.gateway);
      if (value === null) delete policy[field]; else policy[field] = value;
      put(policy);
    });
    const pushBack = el("button", t("policy.push_back"));
    pushBack.type = "button";
    pushBack.dataset.policyAction = "push_back";
    pushBack.addEventListener("click", () => put(Object.assign({}, shown.policy)));
    item.append(adopt, " ", pushBack);
    return item;
  }

  function draw(view) {
    shown = view;
    const values = $("policy-values");
    values.replaceChildren();
    for (const field of FIELDS) {
      if (!(field in view.policy)) continue;
      const value = el("dd", valueText(view.policy[field]));
      value.dataset.policyValue = field;
      values.append(el("dt", t("policy." + field)), value);
    }
    $("policy-none").hidden = view.version !== null;
    const gateways = $("policy-gateways");
    gateways.replaceChildren();
    for (const state of view.gateways) {
      const item = el("li", state.gateway_id + " · ");
      item.dataset.policyGateway = state.gateway_id;
      item.dataset.status = state.status;
      item.append(el("span", gatewayText(state), "policy-status"));
      const drift = Object.entries(state.drift || {});
      if (drift.length) {
        const list = el("ul", undefined, "policy-drift");
        for (const [key, pair] of drift) list.append(driftItem(key, pair));
        item.append(list);
      }
      gateways.append(item);
    }
    if (admin) fill(view.policy);
    // No live event says a gateway applied it: after a change, ask again a while.
    clearTimeout(timer);
    if (rechecks > 0 && view.gateways.some((g) => g.status === "pending")) {
      rechecks -= 1;
      timer = setTimeout(load, RECHECK_MS);
    }
  }

  function fill(policy) {
    const form = $("policy-form");
    for (const field of FIELDS) {
      form.elements[field].value = field in policy ? String(policy[field]) : "";
    }
  }

  function submit(event) {
    event.preventDefault();
    const policy = {};
    for (const [field, raw] of new FormData(event.target)) {
      const text = String(raw).trim();
      if (!text) continue;
      // Numbers go as numbers; what is not one goes as typed, for the API to name.
      policy[field] = field === "opening_hours" || Number.isNaN(Number(text)) ? text : Number(text);
    }
    put(policy);
  }

  document.addEventListener("yz-station", (event) => {
    if (station !== event.detail.id) say("");
    station = event.detail.id;
    admin = event.detail.role === "admin";
    timeZone = event.detail.timeZone || null;
    $("policy-form").hidden = !admin;
    load();
  });
  $("policy-form").addEventListener("submit", submit);
})();
