// After a page that answers a button (Test connection) loads, move focus to its result, the
// element marked data-focus-on-load (with tabindex="-1"): the browser scrolls it into view
// and screen readers read it first, so the answer is where the user is looking.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var target = document.querySelector("[data-focus-on-load]");
    if (target) {
      target.focus();
    }
  });
})();
