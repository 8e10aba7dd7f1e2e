// The host filter hides the tiles whose host name does not contain the
// text typed, as the server does for /?q=. The script also reloads the
// page (a <meta> refresh, used when scripts are off, would reload the URL
// the page was loaded with and drop what was typed since).
(function () {
  "use strict";
  var box = document.getElementById("q");
  var typed = 0;
  var every = parseInt(document.documentElement.getAttribute("data-reload"), 10) * 1000;
  function reload() {
    if (box && document.activeElement === box && Date.now() - typed < 10000) {
      setTimeout(reload, 5000); // not while someone is typing
      return;
    }
    if (box) {
      var q = box.value.trim();
      history.replaceState(null, "", (q === "" ? location.pathname : "?q=" + encodeURIComponent(q)) + location.hash);
    }
    location.reload();
  }
  if (every > 0) { setTimeout(reload, every); }
  if (!box) { return; }

  var tiles = document.querySelectorAll("li.tile");
  var sections = document.querySelectorAll("section[data-state]");
  var names = [], sectionOf = [], counts = [];
  for (var s = 0; s < sections.length; s++) {
    counts.push(sections[s].querySelector("[data-shown]"));
  }
  for (var i = 0; i < tiles.length; i++) {
    names.push((tiles[i].getAttribute("data-host") || "").toLowerCase());
    sectionOf.push(Array.prototype.indexOf.call(sections, tiles[i].closest("section[data-state]")));
  }
  var total = document.getElementById("shown");
  function apply() {
    var q = box.value.replace(/\s+/g, " ").trim().toLowerCase();
    var shown = 0, per = [];
    for (var s = 0; s < sections.length; s++) { per.push(0); }
    for (var i = 0; i < tiles.length; i++) {
      var hide = q !== "" && names[i].indexOf(q) < 0;
      if (tiles[i].hidden !== hide) { tiles[i].hidden = hide; }
      if (!hide) {
        shown++;
        if (sectionOf[i] >= 0) { per[sectionOf[i]]++; }
      }
    }
    for (var s = 0; s < sections.length; s++) {
      if (counts[s]) { counts[s].textContent = q === "" ? "" : per[s] + " shown"; }
      sections[s].classList.toggle("empty", q !== "" && per[s] === 0);
    }
    if (total) {
      // data-total is the server's "N hosts and M jobs", singular when one.
      total.textContent = q === "" ? "" : "Showing " + shown + " of " + (total.getAttribute("data-total") || tiles.length + " hosts") + ".";
    }
    document.documentElement.setAttribute("data-filter", q === "" ? "none" : "js");
  }
  box.addEventListener("input", function () {
    typed = Date.now();
    apply();
    var q = box.value.trim();
    history.replaceState(null, "", (q === "" ? location.pathname : "?q=" + encodeURIComponent(q)) + location.hash);
  });
  apply();
})();
