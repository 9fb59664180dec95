// Runs table: selection (compare, delete, restore) and collapsing child runs.
(function () {
  "use strict";
  var m = window.mltrail;
  var table = document.getElementById("runs-table");
  var compare = document.getElementById("compare-selected");
  var del = document.getElementById("delete-selected");
  var restore = document.getElementById("restore-selected");
  var count = document.getElementById("selection-count");
  var all = document.getElementById("select-all");

  function boxes() {
    return table ? Array.prototype.slice.call(table.querySelectorAll("input[name=run]")) : [];
  }
  function selected() {
    return boxes().filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
  }
  function update() {
    var n = selected().length;
    if (compare) compare.disabled = n < 1;
    if (del) del.disabled = n < 1;
    if (restore) restore.disabled = n < 1;
    if (count) count.textContent = n ? n + " selected" : "";
  }

  if (table) {
    table.addEventListener("change", function (ev) {
      if (ev.target === all) boxes().forEach(function (b) { b.checked = all.checked; });
      update();
    });
    table.addEventListener("click", function (ev) {
      var btn = ev.target.closest ? ev.target.closest("button.toggle-children") : null;
      if (!btn) return;
      var expanded = btn.getAttribute("aria-expanded") === "true";
      btn.setAttribute("aria-expanded", expanded ? "false" : "true");
      btn.textContent = expanded ? "▸" : "▾";
      setChildren(btn.getAttribute("data-run"), expanded);
    });
  }

  function setChildren(parentId, hide) {
    table.querySelectorAll("tr[data-parent]").forEach(function (row) {
      if (row.getAttribute("data-parent") === parentId) {
        row.classList.toggle("collapsed", hide);
        setChildren(row.getAttribute("data-run"), hide);
      }
    });
  }

  if (compare) compare.addEventListener("click", function () {
    var ids = selected();
    if (ids.length) window.location.href = m.base + "/compare?runs=" + encodeURIComponent(ids.join(","));
  });
  if (del) del.addEventListener("click", function (ev) {
    if (!window.confirm("Delete " + selected().length + " run(s)? They can be restored from the deleted view.")) ev.preventDefault();
  });
  update();
})();
