// What every console script needs from the page: the CSRF token for writes, elements made
// with their text set as text (never as HTML), and times in a station's own zone.
"use strict";
(function () {
  function csrf() {
    const match = document.cookie.match(/(?:^|; )yz_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function el(tag, text, className) {
    const element = document.createElement(tag);
    if (text !== undefined && text !== null) element.textContent = String(text);
    if (className) element.className = className;
    return element;
  }

  // `iso` (UTC from the API) as a date and time in `timeZone` (the browser's when none);
  // `timeStyle` "medium" keeps the seconds. The text as given if it is no time.
  function stationTime(iso, timeZone, timeStyle) {
    if (!iso) return "";
    const options = { dateStyle: "short", timeStyle: timeStyle || "medium", hourCycle: "h23" };
    if (timeZone) options.timeZone = timeZone;
    try {
      return new Intl.DateTimeFormat(window.yzI18n.language, options).format(new Date(iso));
    } catch (error) {
      return iso;
    }
  }

  window.yzDom = { csrf, el, stationTime };
})();
