// Show only the fields that apply: the chosen Authentication Type's, the CSV delimiter for
// CSV files, the deletion limit for Sync, and the interval or the cron fields for the chosen
// schedule. The server applies the same rules, so this is
// convenience, not enforcement. A choice that shows or hides sections is marked
// data-shows="ATTR" (around its inputs); the sections it controls carry ATTR="the value that
// shows them". A field that is required while its section is shown has a mark
// (data-required-mark) shown with it, and its input is aria-required then. No field is named
// here: a source's settings template declares its own.
(function () {
  "use strict";
  function markRequired(section, show) {
    section.querySelectorAll("[data-required-mark]").forEach(function (mark) {
      mark.hidden = !show;
      var field = mark.closest(".field");
      var input = field ? field.querySelector("input, select, textarea") : null;
      if (!input) { return; }
      if (show) {
        input.setAttribute("aria-required", "true");
      } else {
        input.removeAttribute("aria-required");
      }
    });
  }
  function sync(name, attr) {
    var checked = document.querySelector('input[name="' + name + '"]:checked');
    var select = document.querySelector('select[name="' + name + '"]');
    var value = checked ? checked.value : select ? select.value : null;
    document.querySelectorAll("[" + attr + "]").forEach(function (section) {
      var show = section.getAttribute(attr) === value;
      section.hidden = !show;
      section.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !show;
      });
      markRequired(section, show);
    });
  }
  function bind(name, attr) {
    document.querySelectorAll('[name="' + name + '"]').forEach(function (input) {
      input.addEventListener("change", function () { sync(name, attr); });
    });
    sync(name, attr);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-shows]").forEach(function (choice) {
      var input = choice.querySelector("input, select");
      if (input) { bind(input.name, choice.getAttribute("data-shows")); }
    });
    // Results a button asked for (Check sample) are where the eye goes, not below the fold.
    var result = document.querySelector("[data-focus]");
    if (result) { result.focus(); result.scrollIntoView({block: "start"}); }
  });
})();
