// Wijkverkenner review pages: the maps. Everything else works without JavaScript.
// Leaflet (bundled, /assets/leaflet.js) draws the buurt boundaries, the walk's track and
// records, and the area choropleth; a basemap only when the server has a tile URL.
"use strict";

(function () {
  var KIND_COLOURS = { observation: "#1d5fa8", conversation: "#1e7b34", signal: "#b3261e", track: "#5b2a86" };

  function getJson(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  function baseMap(el) {
    var map = L.map(el, { zoomSnap: 0.5 });
    var tiles = el.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: "Kaart: PDOK / Kadaster" }).addTo(map);
    }
    return map;
  }

  function boundaries(map, geojson, style) {
    return L.geoJSON(geojson, {
      style: style || function () { return { color: "#6b6b6b", weight: 1, fillOpacity: 0.04, className: "wv-buurt" }; }
    }).addTo(map);
  }

  function walkMap(el) {
    var map = baseMap(el);
    Promise.all([getJson(el.getAttribute("data-buurten")), getJson(el.getAttribute("data-features"))]).then(function (all) {
      var buurten = boundaries(map, all[0]);
      var drawn = 0;
      var layer = L.geoJSON(all[1], {
        style: function (f) {
          return { color: KIND_COLOURS.track, weight: 4, className: "wv-feature wv-track" };
        },
        pointToLayer: function (f, latlng) {
          var kind = f.properties.kind;
          var severe = kind === "signal" && (f.properties.severity === "high" || f.properties.severity === "acute");
          return L.circleMarker(latlng, {
            radius: severe ? 9 : 7, color: "#ffffff", weight: 2, fillOpacity: 0.9,
            fillColor: KIND_COLOURS[kind] || "#333333", className: "wv-feature wv-" + kind
          });
        },
        onEachFeature: function (f, l) {
          drawn += 1;
          if (f.properties.id && f.properties.kind !== "track") {
            l.bindTooltip(f.properties.kind + (f.properties.codes ? ": " + f.properties.codes : ""));
            l.on("click", function () { window.location.href = "/records/" + f.properties.id; });
          }
        }
      }).addTo(map);
      var bounds = layer.getBounds();
      map.fitBounds(bounds.isValid() ? bounds.pad(0.2) : buurten.getBounds());
      el.setAttribute("data-drawn", String(drawn));
    }).catch(function () { el.setAttribute("data-drawn", "error"); });
  }

  function areaMap(el) {
    var map = baseMap(el);
    var period = el.getAttribute("data-period");
    Promise.all([getJson(el.getAttribute("data-buurten")), getJson(el.getAttribute("data-counts"))]).then(function (all) {
      var counts = all[1];
      var max = 0;
      Object.keys(counts).forEach(function (k) { max = Math.max(max, counts[k].observations + counts[k].signals); });
      var shades = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];
      var layer = boundaries(map, all[0], function (f) {
        var c = counts[f.properties.code];
        var n = c ? c.observations + c.signals : 0;
        var i = n === 0 || max === 0 ? 0 : Math.min(4, 1 + Math.floor(3 * n / max));
        return { color: "#555555", weight: 1, fillColor: shades[i], fillOpacity: 0.7, className: "wv-buurt wv-shade-" + i };
      });
      layer.eachLayer(function (l) {
        var p = l.feature.properties, c = counts[p.code] || { observations: 0, signals: 0 };
        l.bindTooltip(p.name + ": " + c.observations + " / " + c.signals);
        l.on("click", function () {
          window.location.href = "/area?period=" + encodeURIComponent(period) + "&buurt=" + encodeURIComponent(p.code);
        });
      });
      map.fitBounds(layer.getBounds());
      el.setAttribute("data-drawn", String(Object.keys(counts).length));
    }).catch(function () { el.setAttribute("data-drawn", "error"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof L === "undefined") { return; }
    var walk = document.getElementById("map");
    if (walk) { walkMap(walk); }
    var area = document.getElementById("area-map");
    if (area) { areaMap(area); }
  });
})();
