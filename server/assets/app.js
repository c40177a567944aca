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

  /** A tooltip's content as text (names and labels come from files and people: never HTML). */
  function text(value) {
    var span = document.createElement("span");
    span.textContent = value;
    return span;
  }

  /** A marker's tooltip: what it is, and the thumbnails of its photos (the page knows their ids). */
  function tooltip(label, photos, alt) {
    var box = text(label);
    var row = document.createElement("span");
    row.className = "photos";
    (photos || []).slice(0, 5).forEach(function (id) {
      if (!/^[0-9a-f-]{36}$/.test(id)) { return; }
      var img = document.createElement("img");
      img.src = "/photos/" + id + "/thumb";
      img.alt = alt || "";
      img.className = "thumb";
      row.appendChild(img);
    });
    if (row.childNodes.length) { box.appendChild(row); }
    return box;
  }

  /** The words a map needs, from the page (`data-words`, JSON), in the reader's language. */
  function words(el) {
    try { return JSON.parse(el.getAttribute("data-words") || "{}"); } catch (e) { return {}; }
  }

  function baseMap(el) {
    var w = words(el);
    var map = L.map(el, { zoomSnap: 0.5, zoomControl: false });
    L.control.zoom({ zoomInTitle: w.zoom_in || "+", zoomOutTitle: w.zoom_out || "-" }).addTo(map);
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

  /** Opens a record's page from its marker, by mouse or by the keyboard (Enter). */
  function linkMarker(l, href, label) {
    l.on("click", function () { window.location.href = href; });
    l.on("add", function () {
      var node = l.getElement && l.getElement();
      if (!node) { return; }
      node.setAttribute("role", "link");
      node.setAttribute("aria-label", label);
      node.setAttribute("tabindex", "0");
      node.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { window.location.href = href; }
      });
    });
  }

  function walkMap(el) {
    var map = baseMap(el);
    var w = words(el);
    var labels = w.labels || {};
    var kinds = w.kinds || {};
    Promise.all([getJson(el.getAttribute("data-buurten")), getJson(el.getAttribute("data-features"))]).then(function (all) {
      var buurten = boundaries(map, all[0]);
      buurten.eachLayer(function (l) { l.bindTooltip(text(l.feature.properties.name || l.feature.properties.code), { sticky: true }); });
      var drawn = 0;
      var layer = L.geoJSON(all[1], {
        style: function (f) {
          // The route; the markers keep the style they were made with.
          if (f.geometry.type === "Point") { return {}; }
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
            var codes = String(f.properties.codes || "").split(";").filter(Boolean).map(function (c) { return labels[c] || c; }).join(", ");
            var label = (kinds[f.properties.kind] || f.properties.kind) + (codes ? ": " + codes : "");
            l.bindTooltip(tooltip(label, (w.photos || {})[f.properties.id], w.photo_alt));
            linkMarker(l, "/records/" + f.properties.id, label);
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
      var w = words(el);
      layer.eachLayer(function (l) {
        var p = l.feature.properties, c = counts[p.code] || { observations: 0, conversations: 0, signals: 0 };
        l.bindTooltip(text((p.name || p.code) + ": " + c.observations + " " + (w.observations || "") + ", " +
          (c.conversations || 0) + " " + (w.conversations || "") + ", " + c.signals + " " + (w.signals || "")), { sticky: true });
        l.on("click", function () {
          window.location.href = "/area?period=" + encodeURIComponent(period) + "&buurt=" + encodeURIComponent(p.code);
        });
      });
      map.fitBounds(layer.getBounds());
      el.setAttribute("data-drawn", String(Object.keys(counts).length));
    }).catch(function () { el.setAttribute("data-drawn", "error"); });
  }

  /** The triage form: a referral target only for "referred", and then one must be chosen (the
   * browser keeps what was typed instead of sending a form the server refuses). */
  function triage(form) {
    var next = form.querySelector("#next"), referral = form.querySelector("#referral");
    if (!next || !referral) { return; }
    function update() {
      var referring = next.value === "referred";
      referral.required = referring;
      referral.disabled = !referring;
    }
    next.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("triage");
    if (form) { triage(form); }
    if (typeof L === "undefined") { return; }
    var walk = document.getElementById("map");
    if (walk) { walkMap(walk); }
    var area = document.getElementById("area-map");
    if (area) { areaMap(area); }
  });
})();
