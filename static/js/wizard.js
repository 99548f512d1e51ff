// Show only the fields that apply: the chosen Authentication Type's, the CSV delimiter for
// CSV files, and the deletion limit for Sync. The server applies the same rules, so this is convenience, not enforcement.
(function () {
  "use strict";
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
    });
  }
  function bind(name, attr) {
    document.querySelectorAll('[name="' + name + '"]').forEach(function (input) {
      input.addEventListener("change", function () { sync(name, attr); });
    });
    sync(name, attr);
  }
  document.addEventListener("DOMContentLoaded", function () {
    bind("source_settings-auth_type", "data-auth-for");
    bind("entity_settings-file_format", "data-show-when-format");
    bind("entity_settings-integration_type", "data-show-when-integration");
  });
})();
