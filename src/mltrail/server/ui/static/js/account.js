// Account and admin pages: select a freshly created token when its field gets focus, so it
// can be copied at once.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-select-on-focus]").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
      input.addEventListener("click", function () { input.select(); });
    });
    var fresh = document.getElementById("new-token-value");
    if (fresh) { fresh.focus(); fresh.select(); }
  });
})();
