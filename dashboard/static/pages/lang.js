// One language at a time on the public pages (the workers' map and the pass page):
// Chinese unless the reader chose English, the choice remembered on the phone.
// Plain ES2017 without modules: WeChat's built-in browser runs these pages too.
"use strict";
var yzLang = (function () {
  var LANGUAGES = ["zh-CN", "en"];
  var KEY = "yz-lang";   // the operator UI's key: one choice per phone
  var catalogue = {};
  var language = remembered();

  function remembered() {
    try {
      var value = localStorage.getItem(KEY);
      return LANGUAGES.indexOf(value) >= 0 ? value : "zh-CN";
    } catch (error) {
      return "zh-CN";   // storage switched off: the default every time
    }
  }

  // The text of `key` with each {name} replaced by values[name].
  function t(key, values) {
    var text = Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : key;
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return values && name in values ? String(values[name]) : whole;
    });
  }

  function apply(root) {
    var labelled = (root || document).querySelectorAll("[data-i18n]");
    for (var i = 0; i < labelled.length; i++) {
      labelled[i].textContent = t(labelled[i].getAttribute("data-i18n"));
    }
    var attributes = {"data-i18n-placeholder": "placeholder", "data-i18n-label": "aria-label"};
    Object.keys(attributes).forEach(function (marker) {
      var marked = (root || document).querySelectorAll("[" + marker + "]");
      for (var j = 0; j < marked.length; j++) {
        marked[j].setAttribute(attributes[marker], t(marked[j].getAttribute(marker)));
      }
    });
    var title = document.querySelector("[data-i18n-title]");
    if (title) document.title = t(title.getAttribute("data-i18n-title"));
    document.documentElement.lang = language;
  }

  async function use(next) {
    var answer = await fetch("/ui/i18n/" + encodeURIComponent(next) + ".json");
    if (!answer.ok) throw new Error("no catalogue for " + next);
    catalogue = await answer.json();
    language = next;
    try { localStorage.setItem(KEY, next); } catch (error) { /* not remembered */ }
    apply();
    document.dispatchEvent(new CustomEvent("yz-language", {detail: next}));
  }

  function toggle() {
    return use(language === "zh-CN" ? "en" : "zh-CN");
  }

  return {
    t: t, apply: apply, use: use, toggle: toggle, LANGUAGES: LANGUAGES,
    get language() { return language; },
  };
})();
