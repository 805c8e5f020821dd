// Links that open a station in the phone's map app, through each maker's documented
// web address (it hands over to the installed app when there is one).
// Station coordinates are WGS-84 (what GPS and the feed give); each link says so, so that
// AutoNavi and Baidu, which draw in GCJ-02 and BD-09, shift the point themselves.
"use strict";
var yzNavigate = (function () {
  var SOURCE = "yizhan";

  function query(params) {
    return Object.keys(params).map(function (key) {
      return encodeURIComponent(key) + "=" + encodeURIComponent(params[key]);
    }).join("&");
  }

  // AutoNavi (高德) URI API, "marker": position is lon,lat; coordinate=wgs84.
  function amap(station) {
    return "https://uri.amap.com/marker?" + query({
      position: station.lon + "," + station.lat, name: station.name,
      src: SOURCE, coordinate: "wgs84", callnative: "1",
    });
  }

  // Baidu Maps URI API, "marker": location is lat,lon; coord_type=wgs84.
  function baidu(station) {
    return "https://api.map.baidu.com/marker?" + query({
      location: station.lat + "," + station.lon, title: station.name,
      content: station.address || station.name, output: "html",
      coord_type: "wgs84", src: "webapp." + SOURCE + ".map",
    });
  }

  // Apple Maps: ll is lat,lon (WGS-84 outside China; Apple shifts it inside).
  function apple(station) {
    return "https://maps.apple.com/?" + query({
      ll: station.lat + "," + station.lon, q: station.name,
    });
  }

  return {amap: amap, baidu: baidu, apple: apple};
})();
