// Translations: every label carries data-i18n="key"; the catalogue comes from the server.
"use strict";
window.yzI18n = (function () {
  let catalogue = {};
  let language = localStorage.getItem("yz-lang") || "zh-CN";

  function t(key) {
    return Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : key;
  }

  function apply(root) {
    for (const element of (root || document).querySelectorAll("[data-i18n]")) {
      element.textContent = t(element.dataset.i18n);
    }
    for (const element of (root || document).querySelectorAll("[data-i18n-placeholder]")) {
      element.placeholder = t(element.dataset.i18nPlaceholder);
    }
    document.title = t("title");
    document.documentElement.lang = language;
  }

  async function use(next) {
    const answer = await fetch("/ui/i18n/" + encodeURIComponent(next) + ".json");
    if (!answer.ok) return;
    catalogue = await answer.json();
    language = next;
    localStorage.setItem("yz-lang", next);
    apply();
    document.dispatchEvent(new CustomEvent("yz-language", { detail: next }));
  }

  return { t, apply, use, get language() { return language; } };
})();
