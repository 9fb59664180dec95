// Compare page: parallel coordinates and a scatter plot drawn on canvas, and the diff toggle.
// Axis choices live in the URL (?x=..&y=..&color=..) like every other view state.
(function () {
  "use strict";
  var m = window.mltrail;
  var runs = m.readData("plot-data") || [];
  var diff = document.querySelector("[data-autosubmit-check]");
  if (diff) diff.addEventListener("change", function () { diff.form.submit(); });
  if (!runs.length) return;

  var keys = {};
  runs.forEach(function (r) { Object.keys(r.values).forEach(function (k) { keys[k] = true; }); });
  // Numeric dimensions only: every value a number (missing values allowed).
  var dims = Object.keys(keys).sort().filter(function (k) {
    var seen = 0;
    var ok = runs.every(function (r) {
      var v = r.values[k];
      if (v === null || v === undefined) return true;
      seen++;
      return typeof v === "number";
    });
    return ok && seen > 0;
  });
  var params = new URL(window.location.href).searchParams;

  function range(k) {
    var lo = Infinity, hi = -Infinity;
    runs.forEach(function (r) { var v = r.values[k]; if (typeof v === "number") { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (lo === hi) { lo -= 1; hi += 1; }
    return [lo, hi];
  }
  function padded(r) { var d = (r[1] - r[0]) * 0.06; return [r[0] - d, r[1] + d]; }
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function setup(canvas) {
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "12px system-ui, sans-serif";
    return { ctx: ctx, w: w, h: h };
  }
  function fillSelect(sel, value, name) {
    if (!sel) return;
    while (sel.firstChild) sel.removeChild(sel.firstChild);
    dims.forEach(function (k) { sel.appendChild(m.el("option", { value: k }, k)); });
    if (value && dims.indexOf(value) >= 0) sel.value = value;
    sel.addEventListener("change", function () { m.setParam(name, sel.value); drawAll(); });
  }
  function colorOf(i, colorKey, colorRange) {
    if (!colorKey) return m.palette[i % m.palette.length];
    var v = runs[i].values[colorKey];
    if (typeof v !== "number") return cssVar("--muted");
    var t = (v - colorRange[0]) / (colorRange[1] - colorRange[0]);
    return "hsl(" + Math.round(240 - 200 * t) + ", 70%, 50%)";  // blue (low) to orange (high)
  }

  var pcCanvas = document.getElementById("pc-canvas"), pcColor = document.getElementById("pc-color");
  var scCanvas = document.getElementById("scatter-canvas");
  var sx = document.getElementById("scatter-x"), sy = document.getElementById("scatter-y");
  if (pcColor) {
    pcColor.appendChild(m.el("option", { value: "" }, "run"));
    dims.forEach(function (k) { pcColor.appendChild(m.el("option", { value: k }, k)); });
    pcColor.value = dims.indexOf(params.get("color")) >= 0 ? params.get("color") : "";
    pcColor.addEventListener("change", function () { m.setParam("color", pcColor.value); drawAll(); });
  }
  fillSelect(sx, params.get("sx") || dims.filter(function (k) { return k.indexOf("params.") === 0; })[0] || dims[0], "sx");
  fillSelect(sy, params.get("sy") || dims.filter(function (k) { return k.indexOf("metrics.") === 0; })[0] || dims[1] || dims[0], "sy");

  var pcLines = [], scPoints = [];

  function drawPC() {
    if (!pcCanvas) return;
    var c = setup(pcCanvas), ctx = c.ctx, fg = cssVar("--fg"), line = cssVar("--line");
    pcLines = [];
    if (dims.length < 2) {
      ctx.fillStyle = fg; ctx.fillText("Needs at least two numeric params or metrics.", 20, 30); return;
    }
    var pad = 70, top = 50, bottom = c.h - 24;
    var step = (c.w - 2 * pad) / (dims.length - 1);
    var ranges = dims.map(range);
    var colorKey = pcColor ? pcColor.value : "", colorRange = colorKey ? range(colorKey) : null;
    ctx.strokeStyle = line; ctx.fillStyle = fg; ctx.textAlign = "center";
    dims.forEach(function (k, j) {
      var x = pad + j * step;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      var label = k.length > 24 ? k.slice(0, 23) + "…" : k;
      ctx.fillText(label, x, 14 + (j % 2) * 14);
      ctx.fillText(m.fmt(ranges[j][1]), x, top - 6);
      ctx.fillText(m.fmt(ranges[j][0]), x, bottom + 14);
    });
    runs.forEach(function (r, i) {
      var pts = [];
      dims.forEach(function (k, j) {
        var v = r.values[k];
        if (typeof v !== "number") return;
        var t = (v - ranges[j][0]) / (ranges[j][1] - ranges[j][0]);
        pts.push([pad + j * step, bottom - t * (bottom - top)]);
      });
      ctx.strokeStyle = colorOf(i, colorKey, colorRange); ctx.lineWidth = 1.6;
      ctx.beginPath();
      pts.forEach(function (p, n) { if (n) ctx.lineTo(p[0], p[1]); else ctx.moveTo(p[0], p[1]); });
      ctx.stroke();
      pcLines.push(pts);
    });
    pcCanvas.setAttribute("data-rendered", String(pcLines.length));
  }

  function drawScatter() {
    if (!scCanvas || !sx || !sy) return;
    var c = setup(scCanvas), ctx = c.ctx, fg = cssVar("--fg"), line = cssVar("--line");
    scPoints = [];
    if (!dims.length) { ctx.fillStyle = fg; ctx.fillText("No numeric params or metrics to plot.", 20, 30); return; }
    var kx = sx.value, ky = sy.value, rx = padded(range(kx)), ry = padded(range(ky));
    var left = 70, right = c.w - 20, top = 16, bottom = c.h - 40;
    ctx.strokeStyle = line; ctx.fillStyle = fg;
    ctx.strokeRect(left, top, right - left, bottom - top);
    ctx.textAlign = "center";
    for (var t = 0; t <= 4; t++) {
      var vx = rx[0] + (rx[1] - rx[0]) * t / 4, px = left + (right - left) * t / 4;
      ctx.fillText(m.fmt(vx), px, bottom + 16);
      var vy = ry[0] + (ry[1] - ry[0]) * t / 4, py = bottom - (bottom - top) * t / 4;
      ctx.textAlign = "right"; ctx.fillText(m.fmt(vy), left - 6, py + 4); ctx.textAlign = "center";
    }
    ctx.fillText(kx, (left + right) / 2, c.h - 6);
    ctx.save(); ctx.translate(14, (top + bottom) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(ky, 0, 0); ctx.restore();
    runs.forEach(function (r, i) {
      var x = r.values[kx], y = r.values[ky];
      if (typeof x !== "number" || typeof y !== "number") return;
      var px = left + (x - rx[0]) / (rx[1] - rx[0]) * (right - left);
      var py = bottom - (y - ry[0]) / (ry[1] - ry[0]) * (bottom - top);
      ctx.fillStyle = m.palette[i % m.palette.length];
      ctx.beginPath(); ctx.arc(px, py, 5, 0, 2 * Math.PI); ctx.fill();
      scPoints.push([px, py, i]);
    });
    scCanvas.setAttribute("data-rendered", String(scPoints.length));
  }

  function nearestLine(x, y) {
    var best = -1, dist = 8;
    pcLines.forEach(function (pts, i) {
      for (var n = 1; n < pts.length; n++) {
        var a = pts[n - 1], b = pts[n];
        if (x < Math.min(a[0], b[0]) || x > Math.max(a[0], b[0])) continue;
        var yy = a[1] + (b[1] - a[1]) * (x - a[0]) / ((b[0] - a[0]) || 1);
        if (Math.abs(yy - y) < dist) { dist = Math.abs(yy - y); best = i; }
      }
    });
    return best;
  }
  function describe(i, keysShown) {
    var r = runs[i];
    return r.name + ": " + keysShown.map(function (k) { return k + "=" + m.fmt(r.values[k]); }).join(", ");
  }
  if (pcCanvas) pcCanvas.addEventListener("mousemove", function (ev) {
    var rect = pcCanvas.getBoundingClientRect(), i = nearestLine(ev.clientX - rect.left, ev.clientY - rect.top);
    document.getElementById("pc-hover").textContent = i >= 0 ? describe(i, dims.slice(0, 6)) : "";
  });
  if (scCanvas) scCanvas.addEventListener("mousemove", function (ev) {
    var rect = scCanvas.getBoundingClientRect(), x = ev.clientX - rect.left, y = ev.clientY - rect.top;
    var hit = scPoints.filter(function (p) { return Math.hypot(p[0] - x, p[1] - y) < 8; })[0];
    document.getElementById("scatter-hover").textContent = hit ? describe(hit[2], [sx.value, sy.value]) : "";
  });

  function drawAll() { drawPC(); drawScatter(); }
  drawAll();
  var timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(drawAll, 200); });
  document.addEventListener("mltrail:theme", drawAll);
})();
