// Live progress for a running run: poll its counters, reload once it has finished.
(function () {
  "use strict";
  var box = document.getElementById("run-summary");
  if (!box || box.dataset.active !== "1") return;
  function tick() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        Object.keys(p).forEach(function (k) {
          var el = box.querySelector('[data-k="' + k + '"]');
          if (el) el.textContent = p[k];
        });
        document.getElementById("run-status").textContent = p.status_display;
        if (p.active) { setTimeout(tick, 1500); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 1000);
})();
