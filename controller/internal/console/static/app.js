// Lookout console: live updates of the overview by Server-Sent Events, and ages that stay fresh.
// Data from the server is set with textContent and attributes only, never as markup.
(function () {
  "use strict";

  function age(seconds) {
    var d = Math.max(0, Math.floor(Date.now() / 1000 - seconds));
    if (d < 60) return d + "s";
    if (d < 3600) return Math.floor(d / 60) + "m";
    if (d < 172800) return Math.floor(d / 3600) + "h";
    return Math.floor(d / 86400) + "d";
  }

  function refreshAges() {
    var cells = document.querySelectorAll("td[data-t] a");
    for (var i = 0; i < cells.length; i++) {
      var t = Number(cells[i].parentNode.getAttribute("data-t"));
      if (t) cells[i].textContent = age(t);
    }
  }

  // The alerting states a live event may carry, as the rows' classes name them.
  var alertingStates = { ok: true, unconfirmed: true, down: true, muted: true, paused: true };

  function rowState(row, state) {
    // With alerting, the row shows alerting's state, which each event carries.
    if (row.hasAttribute("data-alerting")) {
      if (alertingStates[state] === true) row.className = "r-" + state;
      return;
    }
    if (row.className === "r-paused") return;
    var cells = row.querySelectorAll("td");
    var seen = false, failing = false;
    for (var i = 0; i < cells.length; i++) {
      var c = cells[i].classList;
      if (c.contains("s-fail") || c.contains("s-err")) failing = true;
      if (!c.contains("s-none") && !c.contains("na")) seen = true;
    }
    row.className = failing ? "r-failing" : seen ? "r-ok" : "r-nodata";
  }

  function update(cell, d) {
    cell.className = d.c + " flash";
    cell.setAttribute("data-t", String(d.t));
    var a = cell.querySelector("a");
    if (!a) {
      cell.textContent = "";
      a = document.createElement("a");
      cell.appendChild(a);
    }
    a.setAttribute("href", "/runs/" + encodeURIComponent(d.r));
    a.textContent = age(d.t);
    rowState(cell.parentNode, d.s);
  }

  function live() {
    var indicator = document.getElementById("live");
    var cellsByKey = {};
    var heads = document.querySelectorAll("#grid thead th[data-cp]");
    var rows = document.querySelectorAll("#grid tr[data-m]");
    for (var i = 0; i < rows.length; i++) {
      var tds = rows[i].querySelectorAll("td");
      for (var j = 0; j < tds.length && j < heads.length; j++) {
        cellsByKey[rows[i].getAttribute("data-m") + "/" + heads[j].getAttribute("data-cp")] = tds[j];
      }
    }
    var es = new EventSource("/events");
    es.onopen = function () { if (indicator) { indicator.classList.add("on"); indicator.textContent = "live"; } };
    es.onerror = function () { if (indicator) { indicator.classList.remove("on"); indicator.textContent = "reconnecting"; } };
    es.addEventListener("result", function (ev) {
      var d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      var cell = cellsByKey[d.k];
      if (cell) update(cell, d);
    });
    window.setInterval(refreshAges, 10000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.getAttribute("data-live") === "1") live();
  });
})();
