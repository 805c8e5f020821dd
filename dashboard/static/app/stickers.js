// Station page: each door's sticker, the QR code a worker scans to open that door from
// the phone. Everyone sees it and can print it; operators make it or rotate it (the old
// sticker stops working at once). The station page (app.js) says which station it drew
// with a "yz-station" event. Every value is set with textContent.
"use strict";
(function () {
  const { csrf, el } = window.yzDom;
  const t = (key) => window.yzI18n.t(key);
  const $ = (id) => document.getElementById(id);
  let station = null, canAct = false;

  function doorPath(door) {
    return "/api/stations/" + encodeURIComponent(station) + "/doors/" + encodeURIComponent(door);
  }

  async function rotate(door, first) {
    if (!first && !window.confirm(t("stickers.rotate_confirm"))) return;
    const answer = await fetch(doorPath(door) + "/sticker", {
      method: "POST", headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin",
    });
    $("sticker-message").textContent = answer.ok ? t("stickers.rotated") : answer.status + " " + answer.statusText;
    await load();
  }

  function row(sticker) {
    const item = el("li", sticker.door_id + " ");
    item.dataset.stickerDoor = sticker.door_id;
    if (sticker.url) {
      const image = el("img", null, "sticker-qr");
      // A fresh address each time, so a rotated sticker is never shown from the cache.
      image.src = doorPath(sticker.door_id) + "/sticker.svg?v=" + encodeURIComponent(sticker.created_at);
      image.alt = "QR";
      image.width = 120;
      image.height = 120;
      const link = el("a", t("stickers.print"));
      link.href = doorPath(sticker.door_id) + "/sticker/print";
      link.target = "_blank";
      link.rel = "noopener";
      const url = el("code", sticker.url, "sticker-url");
      item.append(image, " ", url, " ", link, " ");
    } else {
      item.append(el("span", t("stickers.none")), " ");
    }
    if (canAct) {
      const button = el("button", t(sticker.url ? "stickers.rotate" : "stickers.make"));
      button.type = "button";
      button.dataset.stickerAction = sticker.url ? "rotate" : "make";
      button.addEventListener("click", () => rotate(sticker.door_id, !sticker.url));
      item.append(button);
    }
    return item;
  }

  async function load() {
    const list = $("sticker-list");
    const answer = await fetch("/api/stations/" + encodeURIComponent(station) + "/stickers",
                               { credentials: "same-origin" });
    if (!answer.ok) { list.replaceChildren(); return; }
    const stickers = await answer.json();
    list.replaceChildren(...stickers.map(row));
  }

  document.addEventListener("yz-station", (event) => {
    station = event.detail.id;
    canAct = event.detail.role === "operator" || event.detail.role === "admin";
    $("sticker-message").textContent = "";
    load();
  });
})();
