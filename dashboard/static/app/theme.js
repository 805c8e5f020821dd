// The night theme: dark colours for a night shift's dim room. An operator's choice is
// remembered in this browser; without one the page follows the system's
// prefers-color-scheme, also when it changes. Loaded in <head>, so the first paint is
// already in the right colours.
"use strict";
window.yzTheme = (function () {
  const KEY = "yz-theme";
  const system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function chosen() {
    const stored = localStorage.getItem(KEY);
    if (stored === "dark" || stored === "light") return stored;
    return system && system.matches ? "dark" : "light";
  }

  function apply() {
    const theme = chosen();
    document.documentElement.dataset.theme = theme;
    const toggle = document.getElementById("theme-night");
    if (toggle) toggle.checked = theme === "dark";
  }

  function set(theme) {
    localStorage.setItem(KEY, theme);
    apply();
  }

  apply();
  if (system && system.addEventListener) system.addEventListener("change", apply);
  document.addEventListener("DOMContentLoaded", () => {
    apply();
    const toggle = document.getElementById("theme-night");
    if (toggle) toggle.addEventListener("change", () => set(toggle.checked ? "dark" : "light"));
  });

  return { set, get theme() { return chosen(); } };
})();
