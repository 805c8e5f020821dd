// The workers' public map (`/map`): stations nearest first, those with free places before
// the rest, each with its hours, amenities and links to a phone map app. Without the
// phone's position the list is by name, with a filter. Data: the public feed
// (/feed/nearest around a position, /feed/stations.geojson otherwise).
"use strict";
(function () {
  var t = yzLang.t;
  var el = function (id) { return document.getElementById(id); };
  var stations = [];     // feature properties from the feed
  var origin = null;     // {lat, lon} once the phone says where it is
  var located = "locating";
  var failed = false;    // the feed could not be read: say so rather than "none found"
  var loaded = false;     // a list has been asked for (with or without a position)
  var EARTH_RADIUS_KM = 6371.0;
  var NEAREST = 30;      // stations asked for around a position...
  var NEAREST_KM = 100;  // ...within this distance
  var SHOWN = 50;        // list items drawn at most; the filter finds the others

  function distanceKm(a, b) {
    var rad = Math.PI / 180;
    var dLat = (b.lat - a.lat) * rad;
    var dLon = (b.lon - a.lon) * rad;
    var h = Math.pow(Math.sin(dLat / 2), 2)
      + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.pow(Math.sin(dLon / 2), 2);
    return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(h));
  }

  // Near and with room first; then the rest by distance. By name without a position.
  function ordered(list) {
    var rows = list.map(function (s) {
      return {s: s, km: origin ? distanceKm(origin, s) : null};
    });
    rows.sort(function (a, b) {
      if (origin) {
        var room = (b.s.is_accepting_entries ? 1 : 0) - (a.s.is_accepting_entries ? 1 : 0);
        return room || a.km - b.km || (a.s.station_id < b.s.station_id ? -1 : 1);
      }
      return a.s.name.localeCompare(b.s.name, yzLang.language);
    });
    return rows;
  }

  function stateOf(s) {
    if (!s.is_online) return "offline";
    if (!s.is_open) return "closed";
    if (!s.is_accepting_entries) return "full";
    return "open";
  }

  function hoursOf(s) {
    return s.opening_hours === "24/7" ? t("public.hours.always")
      : t("public.hours", {hours: s.opening_hours});
  }

  function link(href, key, kind) {
    var a = document.createElement("a");
    a.href = href;
    a.className = "nav " + kind;
    a.rel = "noopener noreferrer";
    a.textContent = t(key);
    return a;
  }

  function line(className, text) {
    var p = document.createElement("p");
    p.className = className;
    p.textContent = text;
    return p;
  }

  function item(row) {
    var s = row.s;
    var li = document.createElement("li");
    var state = stateOf(s);
    li.className = "station " + state;
    li.setAttribute("data-station", s.station_id);
    var head = document.createElement("div");
    head.className = "head";
    var name = document.createElement("h2");
    name.textContent = s.name;
    var badge = document.createElement("span");
    badge.className = "badge " + state;
    badge.textContent = state === "open" && s.num_places_available !== null
      ? t("public.free", {free: s.num_places_available}) : t("public.state." + state);
    head.appendChild(name);
    head.appendChild(badge);
    li.appendChild(head);
    if (row.km !== null) {
      // Under a kilometre, metres: "0.0 km" would say nothing.
      li.appendChild(line("distance", row.km < 1
        ? t("public.distance_m", {m: Math.max(10, Math.round(row.km * 100) * 10)})
        : t("public.distance", {km: row.km.toFixed(1)})));
    }
    li.appendChild(line("hours", hoursOf(s)));
    if (s.amenities.length) {
      var names = s.amenities.map(function (a) { return t("amenity." + a); });
      li.appendChild(line("amenities", names.join(t("public.list_separator"))));
    }
    if (s.address) li.appendChild(line("address", s.address));
    var nav = document.createElement("p");
    nav.className = "navigate";
    nav.appendChild(line("navigate-label", t("public.navigate")));
    nav.appendChild(link(yzNavigate.amap(s), "public.nav.amap", "amap"));
    nav.appendChild(link(yzNavigate.baidu(s), "public.nav.baidu", "baidu"));
    nav.appendChild(link(yzNavigate.apple(s), "public.nav.apple", "apple"));
    li.appendChild(nav);
    li.appendChild(voiceOf(s.station_id));
    return li;
  }

  // Per station, the report form and what changed because workers asked; kept across
  // redraws (the list is drawn again every minute) so a half-written report survives.
  var voices = {};

  function voiceOf(id) {
    var kept = voices[id];
    if (kept) {
      yzLang.apply(kept.root);
      kept.drawChanges();
      return kept.root;
    }
    var root = document.createElement("div");
    root.className = "voice";
    var changes = document.createElement("details");
    changes.className = "changes";
    var changesTitle = document.createElement("summary");
    changesTitle.setAttribute("data-i18n", "public.changes");
    changesTitle.textContent = t("public.changes");
    changes.appendChild(changesTitle);
    var list = document.createElement("ul");
    changes.appendChild(list);
    var report = document.createElement("details");
    report.className = "report";
    var reportTitle = document.createElement("summary");
    reportTitle.setAttribute("data-i18n", "public.report");
    reportTitle.textContent = t("public.report");
    report.appendChild(reportTitle);
    root.appendChild(changes);
    root.appendChild(report);
    var entry = {root: root, found: null, failed: false, drawChanges: null};

    entry.drawChanges = function () {
      list.innerHTML = "";
      if (entry.found === null && !entry.failed) return;
      if (entry.failed || !entry.found.length) {
        var none = document.createElement("li");
        none.className = "none";
        none.textContent = t(entry.failed ? "public.changes.failed" : "public.changes.none");
        list.appendChild(none);
        return;
      }
      entry.found.forEach(function (change) {
        var li = document.createElement("li");
        li.className = "change";
        var what = document.createElement("p");
        what.className = "suggestion";
        what.textContent = t("public.changes.suggestion",
          {category: t("feedback.category." + change.category), text: change.suggestion});
        li.appendChild(what);
        if (change.reply) {
          var reply = document.createElement("p");
          reply.className = "reply";
          reply.textContent = t("public.changes.reply", {reply: change.reply});
          li.appendChild(reply);
        }
        if (change.done_at) {
          var at = document.createElement("p");
          at.className = "done-at";
          at.textContent = t("public.changes.done_at", {date: change.done_at.slice(0, 10)});
          li.appendChild(at);
        }
        list.appendChild(li);
      });
    };

    // Fetched when opened, each time: a phone on mobile data asks only for what it reads.
    changes.addEventListener("toggle", async function () {
      if (!changes.open) return;
      try {
        var answer = await fetch("/api/public/stations/" + encodeURIComponent(id) + "/changes");
        if (!answer.ok) throw new Error(String(answer.status));
        entry.found = await answer.json();
        entry.failed = false;
      } catch (error) {
        entry.failed = true;
      }
      entry.drawChanges();
    });
    report.addEventListener("toggle", function () {
      if (!report.open || report.querySelector("form")) return;
      report.appendChild(yzVoice.form({stationId: function () { return id; }}));
    });
    voices[id] = entry;
    return root;
  }

  function render() {
    var words = el("filter").value.trim().toLowerCase();
    var shown = stations.filter(function (s) {
      return !words || (s.name + " " + (s.address || "")).toLowerCase().indexOf(words) >= 0;
    });
    var list = el("stations");
    list.innerHTML = "";
    ordered(shown).slice(0, SHOWN).forEach(function (row) { list.appendChild(item(row)); });
    el("empty").hidden = shown.length > 0;
    el("more").hidden = shown.length <= SHOWN;
    el("more").textContent = t("public.more", {count: shown.length - SHOWN});
    el("where").textContent = t(failed ? "public.unavailable" : "public." + located);
  }

  // Rounded to about a kilometre: enough to find the nearest, and no more than that is
  // sent about where the reader stands (the list is sorted again here, exactly).
  function nearestUrl() {
    return "/feed/nearest?limit=" + NEAREST + "&max_km=" + NEAREST_KM
      + "&lat=" + origin.lat.toFixed(2) + "&lon=" + origin.lon.toFixed(2);
  }

  async function fetched(url, pick) {
    var answer = await fetch(url);
    if (!answer.ok) throw new Error(url + ": " + answer.status);
    return pick(await answer.json());
  }

  // With a position, only the nearest stations that can take people now (a province's
  // whole feed is megabytes, too much for a phone on mobile data); without one, or when
  // none near has room, every station, to be sorted and filtered here.
  async function load() {
    loaded = true;
    try {
      var found = [];
      if (origin) {
        found = await fetched(nearestUrl(), function (body) { return body.data.stations; });
      }
      if (!found.length) {
        found = await fetched("/feed/stations.geojson", function (body) {
          return body.features.map(function (f) { return f.properties; });
        });
      }
      stations = found;
      failed = false;
    } catch (error) {
      failed = true;   // the last list, if any, stays
    }
    render();
  }

  function locate() {
    if (!navigator.geolocation) {
      located = "by_name";
      load();
      return;
    }
    located = "locating";
    render();
    navigator.geolocation.getCurrentPosition(function (position) {
      origin = {lat: position.coords.latitude, lon: position.coords.longitude};
      located = "by_distance";
      load();
    }, function () {
      origin = null;
      located = "by_name";
      load();
    }, {timeout: 15000, maximumAge: 60000});
  }

  el("locate").addEventListener("click", locate);
  el("filter").addEventListener("input", render);
  el("lang").addEventListener("click", function () { yzLang.toggle().then(render); });
  yzLang.use(yzLang.language).catch(function () { /* the page's Chinese stays */ })
    .then(function () {
      document.documentElement.setAttribute("data-ready", "1");
      locate();
      // A browser can wait for an answer to its permission prompt for ever: list by
      // name meanwhile.
      setTimeout(function () { if (!loaded) load(); }, 8000);
    });
  setInterval(load, 60000);
})();
