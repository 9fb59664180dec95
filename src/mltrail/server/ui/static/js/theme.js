// Applies the saved theme before the page paints (kept tiny and synchronous on purpose).
(function () {
  try {
    var saved = window.localStorage.getItem("mltrail-theme");
    if (saved === "dark" || saved === "light") document.documentElement.setAttribute("data-theme", saved);
  } catch (e) { /* storage may be disabled */ }
})();
