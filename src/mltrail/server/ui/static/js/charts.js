// Metric charts over one or many runs (uPlot). Histories are fetched downsampled to the chart's
// width by the server (min/max per bucket, so spikes survive) and fetched again for the visible
// step range after a zoom. View state (x axis, log scale, smoothing, zoom) lives in the URL.
(function () {
  "use strict";
  var m = window.mltrail;
  var runs = m.readData("chart-runs") || [];
  var containers = Array.prototype.slice.call(document.querySelectorAll(".chart[data-key]"));
  if (!containers.length || !runs.length || !window.uPlot) return;

  var params = new URL(window.location.href).searchParams;
  var state = {
    x: ["step", "wall", "relative"].indexOf(params.get("x")) >= 0 ? params.get("x") : "step",
    log: params.get("log") === "1",
    smooth: Math.min(0.99, Math.max(0, Number(params.get("smooth")) || 0)),
    zoom: parseZoom(params.get("zoom")),
  };
  var charts = [];

  function parseZoom(text) {
    if (!text) return null;
    var parts = text.split("..").map(Number);
    return parts.length === 2 && parts.every(Number.isFinite) && parts[0] < parts[1] ? parts : null;
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  }

  function smooth(values, weight) {
    if (!weight) return values;
    var out = new Array(values.length), last = 0, n = 0;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v === null) { out[i] = null; continue; }
      last = last * weight + (1 - weight) * v; n++;
      out[i] = last / (1 - Math.pow(weight, n));  // debiased like TensorBoard
    }
    return out;
  }

  function xValues(series) {
    if (state.x === "step") return series.steps.slice();
    var t0 = series.t0;
    return series.timestamps.map(function (t) { return state.x === "wall" ? t / 1000 : (t - t0) / 1000; });
  }

  // The step range of the points whose x lies within [lo, hi] (plus one neighbour on each side).
  function stepRange(chart, lo, hi) {
    if (state.x === "step") return [Math.floor(lo), Math.ceil(hi)];
    var min = Infinity, max = -Infinity;
    chart.series.forEach(function (s) {
      if (!s) return;
      var xs = xValues(s);
      for (var i = 0; i < xs.length; i++) {
        if (xs[i] >= lo && xs[i] <= hi) {
          min = Math.min(min, s.steps[Math.max(0, i - 1)]);
          max = Math.max(max, s.steps[Math.min(xs.length - 1, i + 1)]);
        }
      }
    });
    return Number.isFinite(min) ? [min, max] : null;
  }

  function width(chart) {
    return Math.max(260, chart.el.querySelector(".plot").clientWidth || chart.el.clientWidth - 16);
  }

  function fetchAll(chart, range) {
    var points = Math.min(5000, Math.max(100, Math.round(width(chart))));
    chart.status.textContent = "Loading…";
    chart.pending = (chart.pending || 0) + 1;
    var token = chart.pending;
    return Promise.all(runs.map(function (run) {
      return m.getJSON("/ui-api/metric-history", {
        run_id: run.id, key: chart.key, max_points: points,
        start_step: range ? range[0] : null, end_step: range ? range[1] : null,
      }).then(function (body) {
        if (!chart.t0[run.id] && body.timestamps.length && !range) chart.t0[run.id] = body.timestamps[0];
        body.t0 = chart.t0[run.id] || (body.timestamps.length ? body.timestamps[0] : 0);
        return body;
      }).catch(function (err) { return { error: err.message, steps: [], timestamps: [], values: [], t0: 0 }; });
    })).then(function (series) {
      if (token !== chart.pending) return;  // a newer request superseded this one
      chart.series = series;
      draw(chart);
    });
  }

  function draw(chart) {
    var tables = [], shown = [];
    var errors = [], nonFinite = 0, total = 0, few = false;
    chart.series.forEach(function (s, i) {
      if (s.error) { errors.push(runs[i].name + ": " + s.error); return; }
      if (!s.steps.length) return;
      nonFinite += s.non_finite || 0;
      total += s.steps.length;
      var ys = smooth(s.values, state.smooth);
      if (state.log) ys = ys.map(function (v) { return v !== null && v > 0 ? v : null; });
      tables.push([xValues(s), ys]);
      shown.push(i);
      few = few || s.steps.length < 60;
    });
    var plot = chart.el.querySelector(".plot");
    if (chart.plot) { chart.plot.destroy(); chart.plot = null; }
    while (plot.firstChild) plot.removeChild(plot.firstChild);
    if (!tables.length) {
      chart.status.textContent = errors.length ? errors.join("; ") : "No points in this range.";
      return;
    }
    var data = tables.length === 1 ? tables[0] : window.uPlot.join(tables);
    var fg = cssVar("--fg"), grid = cssVar("--line");
    var axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    var opts = {
      width: width(chart),
      height: 240,
      scales: {
        // One distinct x (a metric logged once): centre it instead of uPlot's 0..100 default.
        x: { time: state.x === "wall", range: function (u, lo, hi) {
          if (lo === null || hi === null) return [0, 1];
          if (lo === hi) { var pad = Math.max(1, Math.abs(lo) * 0.05); return [lo - pad, hi + pad]; }
          return [lo, hi];
        } },
        y: state.log ? { distr: 3 } : {},
      },
      axes: [Object.assign({}, axis, state.x === "relative" ? { values: relTicks } : {}),
             Object.assign({}, axis, { values: function (u, vals) { return vals.map(m.fmt); }, size: 60 })],
      series: [{ label: state.x === "step" ? "step" : state.x === "wall" ? "time" : "seconds",
                 value: state.x === "wall" ? undefined : function (u, v) { return v == null ? "--" : m.fmt(v); } }]
        .concat(shown.map(function (i) {
          return { label: runs[i].name, stroke: m.palette[i % m.palette.length], width: 1.5,
                   spanGaps: true, points: { show: few, size: 5 },
                   value: function (u, v) { return v == null ? "--" : m.fmt(v); } };
        })),
      cursor: {
        drag: { x: true, y: false },
        bind: { dblclick: function () { return function () { setZoom(null); return null; }; } },
      },
      legend: { live: true },
      hooks: { setSelect: [function (u) {
        if (u.select.width < 3) return;
        var lo = u.posToVal(u.select.left, "x"), hi = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        setZoom([lo, hi]);
      }] },
    };
    opts.cursor.drag.setScale = false;  // zoom goes through setZoom (re-fetch), not uPlot's own
    chart.plot = new window.uPlot(opts, data, plot);
    if (state.zoom) chart.plot.setScale("x", { min: state.zoom[0], max: state.zoom[1] });
    var note = total.toLocaleString("en-US") + " points shown";
    if (nonFinite) note += "; " + nonFinite + " NaN/Inf values are gaps";
    if (errors.length) note += "; " + errors.join("; ");
    chart.status.textContent = note;
    chart.el.setAttribute("data-rendered", "1");
  }

  function relTicks(u, vals) {
    return vals.map(function (s) {
      if (s == null) return "";
      if (Math.abs(s) < 120) return m.fmt(s) + "s";
      if (Math.abs(s) < 7200) return m.fmt(s / 60) + "m";
      return m.fmt(s / 3600) + "h";
    });
  }

  function setZoom(range) {
    state.zoom = range;
    m.setParam("zoom", range ? range.map(function (v) { return Number(v.toPrecision(8)); }).join("..") : null);
    charts.forEach(function (chart) {
      var steps = range ? stepRange(chart, range[0], range[1]) : null;
      fetchAll(chart, steps);
    });
  }

  function rerender() { charts.forEach(function (c) { if (c.series) draw(c); }); }

  function initControls() {
    var xSel = document.getElementById("x-axis"), log = document.getElementById("log-scale");
    var sm = document.getElementById("smoothing"), smOut = document.getElementById("smoothing-value");
    var reset = document.getElementById("reset-zoom");
    if (xSel) {
      xSel.value = state.x;
      xSel.addEventListener("change", function () {
        state.x = xSel.value;
        m.setParam("x", state.x === "step" ? null : state.x);
        setZoom(null);
      });
    }
    if (log) {
      log.checked = state.log;
      log.addEventListener("change", function () { state.log = log.checked; m.setParam("log", state.log ? "1" : null); rerender(); });
    }
    if (sm) {
      sm.value = String(state.smooth); smOut.textContent = String(state.smooth);
      sm.addEventListener("input", function () {
        state.smooth = Number(sm.value); smOut.textContent = sm.value;
        m.setParam("smooth", state.smooth ? sm.value : null); rerender();
      });
    }
    if (reset) reset.addEventListener("click", function () { setZoom(null); });
  }

  initControls();
  containers.forEach(function (el) {
    var chart = { el: el, key: el.getAttribute("data-key"), status: el.querySelector(".status"), t0: {} };
    charts.push(chart);
  });
  // First load the full range (to learn each run's start time), then apply a zoom from the URL.
  Promise.all(charts.map(function (c) { return fetchAll(c, null); })).then(function () {
    if (state.zoom) setZoom(state.zoom);
  });
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(rerender, 200);
  });
  document.addEventListener("mltrail:theme", rerender);
  window.mltrailCharts = { charts: charts, state: state, setZoom: setZoom };
})();
