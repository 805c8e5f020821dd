// The pass page's reports and suggestions: the form (voice.js) for a station of the
// nearby list, and the worker's own reports with where they stand and the station's
// reply, fetched again whenever the page comes back into view and every 30 s.
// Plain ES2017 without modules: WeChat's built-in browser runs this page too.
"use strict";
(function () {
  var t = yzLang.t;
  var el = function (id) { return document.getElementById(id); };
  var secret = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
  var api = "/api/pass/" + encodeURIComponent(secret) + "/feedback";
  var REFRESH_MS = 30000;
  var reports = null;    // the last list the server sent, drawn again on a language change
  var loading = false;

  function stationOptions(stations) {
    var select = el("voice-station");
    var chosen = select.value;
    select.innerHTML = "";
    stations.forEach(function (s) {
      var option = document.createElement("option");
      option.value = s.id;
      option.textContent = s.name;
      select.appendChild(option);
    });
    if (chosen) select.value = chosen;
    if (!select.value && stations.length) select.value = stations[0].id;
  }

  function line(tag, className, text) {
    var element = document.createElement(tag);
    element.className = className;
    element.textContent = text;
    return element;
  }

  // "12-02 14:05" in the phone's time zone (the server says UTC).
  function when(iso) {
    var at = new Date(iso);
    if (isNaN(at.getTime())) return "";
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(at.getMonth() + 1) + "-" + two(at.getDate()) + " "
      + two(at.getHours()) + ":" + two(at.getMinutes());
  }

  function reportItem(r) {
    var item = document.createElement("li");
    item.className = "report-item";
    item.setAttribute("data-feedback", String(r.id));
    item.setAttribute("data-status", r.status);
    var head = line("span", "name",
      t("feedback.kind." + r.kind) + " · " + t("feedback.category." + r.category));
    var state = line("span", "state feedback-" + r.status, t("feedback.status." + r.status));
    item.appendChild(head);
    item.appendChild(state);
    item.appendChild(line("span", "note where", (r.station_name || r.station_id) + " · "
      + when(r.created_at)));
    item.appendChild(line("span", "note report-text", r.text));
    if (r.reply) item.appendChild(line("span", "note reply", t("voice.reply", {reply: r.reply})));
    return item;
  }

  function drawReports() {
    if (reports === null) return;
    var list = el("reports");
    list.innerHTML = "";
    reports.forEach(function (r) { list.appendChild(reportItem(r)); });
    el("reports-none").hidden = reports.length > 0;
  }

  async function loadReports() {
    if (loading) return;
    loading = true;
    try {
      var answer = await fetch(api, {cache: "no-store"});
      if (answer.ok) {
        reports = await answer.json();
        drawReports();
      }
    } catch (error) {
      // Offline: the list shown last stays.
    } finally {
      loading = false;
    }
  }

  el("voice-form").appendChild(yzVoice.form({
    passSecret: secret,
    stationId: function () { return el("voice-station").value; },
    sent: loadReports,
  }));
  document.addEventListener("yz-stations", function (event) { stationOptions(event.detail); });
  el("stations").addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-report]") : null;
    if (!button) return;
    el("voice-station").value = button.getAttribute("data-report");
    el("voice").scrollIntoView({behavior: "smooth", block: "start"});
    var text = el("voice").querySelector("textarea");
    if (text) text.focus({preventScroll: true});
  });
  document.addEventListener("yz-language", drawReports);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") loadReports();
  });
  setInterval(function () {
    if (document.visibilityState !== "hidden") loadReports();
  }, REFRESH_MS);
  loadReports();
})();
