// The pass page's service worker (served as /pass/sw.js, scope /pass/): after one visit
// the page, its script, style and both catalogues open without a network. The codes
// themselves are kept by the page (localStorage), never by this cache: /api/ answers
// always go to the network.
"use strict";
var CACHE = "yz-pass-v2";
var SHELL = [
  "/static/pages/pass.css",
  "/static/pages/lang.js",
  "/static/pages/pass.js",
  "/static/pages/voice.js",
  "/static/pages/pass-voice.js",
  "/ui/i18n/zh-CN.json",
  "/ui/i18n/en.json",
  "/favicon.ico",
];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(SHELL);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("yz-pass-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function kept(url) {
  return url.pathname.indexOf("/pass/") === 0 || SHELL.indexOf(url.pathname) >= 0;
}

// Network first, so an online phone always has the current page; the copy kept here
// answers only when the network does not.
self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !kept(url)) return;
  event.respondWith(fetch(request).then(function (response) {
    var copy = response.clone();
    caches.open(CACHE).then(function (cache) {
      if (response.ok) return cache.put(request, copy);
      // A link that stopped working must not open from the cache either; a passing
      // server fault leaves the copy alone.
      if (response.status === 404) return cache.delete(request);
      return null;
    });
    return response;
  }).catch(function () {
    return caches.match(request, {ignoreSearch: true}).then(function (hit) {
      return hit || Response.error();
    });
  }));
});
