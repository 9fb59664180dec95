// Shared helpers for every page. Data from the server is only ever put into the page with
// textContent / attributes, never innerHTML.
(function () {
  "use strict";
  var base = document.querySelector('meta[name="mltrail-base"]').content;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v !== "number") return String(v);
    if (Number.isNaN(v)) return "NaN";
    if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString("en-US");
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e9)) return v.toExponential(3);
    return Number(v.toPrecision(4)).toLocaleString("en-US", { maximumSignificantDigits: 4 });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function getJSON(path, params) {
    var q = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== "") q.append(k, String(v));
    });
    return fetch(base + path + (q.toString() ? "?" + q : ""), {
      headers: { "Accept": "application/json" }, credentials: "same-origin",
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error(body.message || ("HTTP " + r.status));
        return body;
      });
    });
  }

  // Twelve distinguishable colours for runs (Tableau 10 + two).
  var palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                 "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#d62728"];

  function readData(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function setParam(name, value) {
    var url = new URL(window.location.href);
    if (value === null || value === undefined || value === "" || value === false) url.searchParams.delete(name);
    else url.searchParams.set(name, String(value));
    window.history.replaceState(null, "", url.toString());
  }

  function toggleTheme() {
    var root = document.documentElement;
    var current = root.getAttribute("data-theme");
    if (current === "auto") current = window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
    var next = current === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { window.localStorage.setItem("mltrail-theme", next); } catch (e) { /* ignore */ }
    document.dispatchEvent(new CustomEvent("mltrail:theme"));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.addEventListener("click", toggleTheme);
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        if (!window.confirm(f.getAttribute("data-confirm"))) ev.preventDefault();
      });
    });
    document.querySelectorAll("time[data-ms]").forEach(function (t) {
      var d = new Date(Number(t.getAttribute("data-ms")));
      t.title = d.toLocaleString() + " (your time)";
    });
  });

  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "/") {
      var target = document.querySelector("[data-hotkey='/']");
      if (target) { ev.preventDefault(); target.focus(); target.select && target.select(); }
    } else if (ev.key === "t") {
      toggleTheme();
    }
  });

  window.mltrail = { base: base, csrf: csrf, fmt: fmt, el: el, getJSON: getJSON, palette: palette,
                     readData: readData, setParam: setParam };
})();
