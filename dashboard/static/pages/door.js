// The page a door's sticker leads to (`/door/<secret>`): one tap opens the door for the
// worker whose pass session this phone holds, and says how it went.
"use strict";
(function () {
  const base = location.pathname.replace(/\/+$/, "");
  const el = (id) => document.getElementById(id);
  let about = null;
  // The pass page's catalogue mechanism (lang.js), so one choice of language holds on
  // both pages; a phone that never chose reads its own language.
  const t = (key) => yzLang.t(key);

  function language() {
    let chosen = null;
    try { chosen = localStorage.getItem("yz-lang"); } catch (err) { /* storage off */ }
    if (chosen && yzLang.LANGUAGES.indexOf(chosen) >= 0) return chosen;
    return (navigator.language || "zh-CN").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
  }

  async function loadCatalogue() {
    try {
      await yzLang.use(language());
    } catch (err) { /* the built-in Chinese labels stay */ }
  }

  function show(outcome, cls) {
    const result = el("result");
    result.textContent = t("door.outcome." + outcome);
    result.className = cls;
    result.dataset.outcome = outcome;
  }

  // The phone's position, only when the station asks for it; no answer in a few seconds
  // (or a refusal) sends the tap without one.
  function position() {
    if (!about || !about.geofence || !navigator.geolocation) return Promise.resolve(null);
    return new Promise((resolve) => {
      navigator.geolocation.getCurrentPosition(
        (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude }),
        () => resolve(null),
        { timeout: 4000, maximumAge: 60000 });
    });
  }

  async function open() {
    el("open").disabled = true;
    show("pending", "waiting");
    try {
      const body = (await position()) || {};
      const answer = await fetch(base + "/open", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
      });
      if (answer.status === 404) { show("gone", "refused"); return; }
      const result = await answer.json();
      if (!answer.ok) { show("refused", "refused"); return; }
      show(result.outcome, result.outcome === "opened" ? "opened" : "refused");
      if (result.outcome === "no_pass") el("nopass").hidden = false;
    } catch (err) {
      show("offline", "refused");
    } finally {
      el("open").disabled = false;
    }
  }

  async function start() {
    await loadCatalogue();
    const answer = await fetch(base + "/about", { cache: "no-store" });
    if (!answer.ok) { show("gone", "refused"); return; }
    about = await answer.json();
    el("where").textContent = about.station_name + " · " + about.door_id;
    el("nopass").hidden = about.has_pass;
    el("open").disabled = false;
    el("open").addEventListener("click", open);
  }

  start();
})();
