// Station page, for admins: add a gateway (its broker account and a one-time enrollment
// code with its QR code, shown once) and remove one (its account is shut out at once).
// The station page (app.js) says which station it drew with a "yz-station" event.
"use strict";
(function () {
  const { csrf } = window.yzDom;
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  let station = null;

  async function send(method, path, body) {
    const options = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const answer = await fetch(path, options);
    let detail = "";
    if (!answer.ok) {
      try { detail = (await answer.json()).detail; } catch (error) { detail = String(answer.status); }
    }
    return { answer, detail };
  }

  function say(key, detail) {
    $("provision-message").textContent = t(key) + (detail ? ": " + detail : "");
  }

  function base() { return "/api/stations/" + encodeURIComponent(station); }

  async function add(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const gatewayId = String(form.get("gateway_id") || "").trim();
    const replace = form.get("replace") === "on";
    if (replace && !window.confirm(t("provision.replace.confirm"))) return;
    const { answer, detail } = await send("POST", base() + "/gateways", { gateway_id: gatewayId, replace });
    if (!answer.ok) { say("provision.failed", detail); return; }
    const added = await answer.json();
    $("enrollment-code").textContent = added.code;
    $("enrollment-command").textContent = added.command;
    $("enrollment-expires").textContent = new Date(added.expires_at).toLocaleString(window.yzI18n.language);
    $("enrollment-qr").src = added.qr_png;
    $("enrollment").hidden = false;
    say("provision.added");
    event.target.reset();
    // The station page draws its gateway list again, with the new one.
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  }

  async function remove(gatewayId) {
    if (!window.confirm(t("provision.remove.confirm"))) return;
    const { answer, detail } = await send("DELETE", base() + "/gateways/" + encodeURIComponent(gatewayId));
    if (!answer.ok) { say("provision.failed", detail); return; }
    say("provision.removed");
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  }

  document.addEventListener("yz-station", (event) => {
    const admin = event.detail.role === "admin";
    if (station !== event.detail.id) $("enrollment").hidden = true;
    station = event.detail.id;
    $("station-provisioning").hidden = !admin;
    if (!admin) return;
    for (const item of document.querySelectorAll("#station-gateways li[data-gateway]")) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = t("provision.remove");
      button.dataset.removeGateway = item.dataset.gateway;
      button.addEventListener("click", () => remove(item.dataset.gateway));
      item.append(" ", button);
    }
  });
  $("add-gateway").addEventListener("submit", add);
})();
