// The Feedback view (#feedback): workers' problem reports and suggestions, filtered by
// station, district, category, status and kind; a photo link; for operators a reply to a
// suggestion (status and public reply; declining needs the reason). A problem's status
// follows its alert: the row links to the alerts panel. app.js says when the view is
// shown with a "yz-feedback" event. Report text is set with textContent, never as HTML.
"use strict";
(function () {
  const { csrf, el } = window.yzDom;
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  const CATEGORIES = ["door", "water", "power", "cleanliness", "safety", "occupancy", "other"];
  const STATUSES = ["received", "in_progress", "done", "declined"];
  let rows = [];
  let stationsLoading = null;

  function option(value, key) {
    const item = new Option(t(key), value);
    item.dataset.i18n = key;
    return item;
  }

  const canAct = () => ["operator", "admin"].includes(document.body.dataset.role);

  function localTime(iso) {
    if (!iso) return "";
    try {
      return new Intl.DateTimeFormat(window.yzI18n.language,
        { dateStyle: "short", timeStyle: "short", hourCycle: "h23" }).format(new Date(iso));
    } catch (error) {
      return iso;
    }
  }

  function fillFilters() {
    const form = $("feedback-filter");
    for (const name of CATEGORIES) form.category.append(option(name, "feedback.category." + name));
    for (const name of STATUSES) form.status.append(option(name, "feedback.status." + name));
    for (const name of ["problem", "suggestion"]) form.kind.append(option(name, "feedback.kind." + name));
  }

  // One load at a time: the filters' first changes come while the first load is on
  // its way, and two loads would list every station and district twice.
  function loadStations() {
    if (!stationsLoading) {
      stationsLoading = fillStations()
        .catch(() => false)
        .then((done) => {
          if (!done) stationsLoading = null;
        });
    }
    return stationsLoading;
  }

  async function fillStations() {
    const answer = await fetch("/api/stations", { credentials: "same-origin" });
    if (!answer.ok) return false;
    const stations = await answer.json();
    const select = $("feedback-filter").station_id;
    for (const station of stations) {
      select.append(new Option(station.name + " (" + station.id + ")", station.id));
    }
    // Districts from the registry, not from the reports listed: a district with no
    // report yet (or none on this page) can still be chosen.
    const districts = [...new Set(stations.map((s) => s.region_code).filter((code) => code))]
      .map(String).sort();
    const district = $("feedback-filter").region_code;
    for (const code of districts) district.append(new Option(code, code));
    return true;
  }

  function query() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData($("feedback-filter"))) if (value) params.set(key, value);
    params.set("limit", "200");
    return params;
  }

  async function load() {
    loadStations();
    const answer = await fetch("/api/feedback?" + query().toString(), { credentials: "same-origin" });
    if (!answer.ok) return;
    rows = await answer.json();
    render();
  }

  function render() {
    const body = $("feedback");
    body.replaceChildren();
    $("feedback-none").hidden = rows.length > 0;
    for (const item of rows) body.append(rowOf(item));
  }

  function rowOf(item) {
    const row = el("tr");
    row.dataset.feedback = String(item.id);
    row.dataset.kind = item.kind;
    row.dataset.status = item.status;
    row.append(el("td", localTime(item.created_at)), el("td", t("feedback.kind." + item.kind)),
      el("td", (item.station_name || "") + " (" + item.station_id + ")"),
      el("td", t("feedback.category." + item.category)));
    const text = el("td", item.text, "feedback-text");
    text.lang = item.lang;
    row.append(text);
    const photo = el("td");
    if (item.has_photo) {
      const link = el("a", undefined, "photo");
      link.href = "/api/feedback/" + item.id + "/photo";
      link.target = "_blank";
      link.rel = "noopener";
      const thumbnail = el("img");
      thumbnail.src = link.href;
      thumbnail.alt = t("feedback.photo");
      thumbnail.loading = "lazy";
      link.append(thumbnail);
      photo.append(link);
    }
    row.append(photo);
    row.append(el("td", t("feedback.status." + item.status), "status"));
    const reply = el("td", undefined, "reply");
    if (item.reply) reply.append(el("div", item.reply, "reply-text"));
    if (item.replied_by) reply.append(el("div", item.replied_by + " · " + localTime(item.replied_at), "note"));
    row.append(reply);
    const actions = el("td");
    if (item.kind === "problem") {
      if (item.alert_id !== null) {
        const link = el("a", t("feedback.alert") + " #" + item.alert_id, "alert-link");
        link.href = "#alerts";
        link.dataset.alert = String(item.alert_id);
        // A done problem's alert is resolved: list the resolved ones too, to find it.
        link.addEventListener("click", () => {
          const resolved = $("alerts-resolved");
          if (item.status === "done" && !resolved.checked) {
            resolved.checked = true;
            resolved.dispatchEvent(new Event("change"));
          }
        });
        actions.append(link);
      }
    } else if (canAct()) {
      actions.append(replyForm(item));
    }
    row.append(actions);
    return row;
  }

  function replyForm(item) {
    const form = el("form", undefined, "feedback-reply");
    const status = el("select");
    status.name = "status";
    status.setAttribute("aria-label", t("feedback.status"));
    for (const name of STATUSES) status.append(option(name, "feedback.status." + name));
    status.value = item.status;
    const text = el("input");
    text.name = "reply";
    text.maxLength = 1000;
    text.value = item.reply || "";
    text.placeholder = t("feedback.reply.placeholder");
    text.setAttribute("aria-label", t("feedback.reply"));
    const save = el("button", t("feedback.reply.save"));
    save.type = "submit";
    const message = el("span", "", "error");
    form.append(status, text, save, message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const words = text.value.trim();
      if (status.value === "declined" && !words) {
        message.textContent = t("feedback.reply.reason_needed");
        return;
      }
      save.disabled = true;
      try {
        const answer = await fetch("/api/feedback/" + item.id + "/reply", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
          body: JSON.stringify({ status: status.value, reply: words || null }),
        });
        if (!answer.ok) {
          message.textContent = t("feedback.reply.failed") + " (" + answer.status + ")";
          return;
        }
        await load();
      } finally {
        save.disabled = false;
      }
    });
    return form;
  }

  fillFilters();
  $("feedback-filter").addEventListener("change", load);
  $("feedback-filter").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  document.addEventListener("yz-feedback", load);
  // A problem's status follows its alert: the list is read again when alerts change.
  document.addEventListener("yz-alerts", () => { if (!$("feedback-view").hidden) load(); });
})();
