// MLflow's dashboard is a single-page app whose pages live after "#": the mlflow client prints
// links such as http://server/#/experiments/1/runs/<id>. The server never sees that part, so
// this script (on every page and on the login page) maps MLflow's hash routes to mltrail's
// pages: experiments, runs (and a run's artifact path), logged models, run comparisons, metric
// charts, registered models and model versions. On the login page it only sets where to go
// after signing in. Anything it does not know is left alone.
(function () {
  "use strict";

  var enc = encodeURIComponent;

  function decode(part) {
    try { return decodeURIComponent(part); } catch (e) { return part; }
  }

  // MLflow writes lists as JSON in the query (?runs=["a","b"]); accept plain commas too.
  function list(params, name) {
    var raw = params.get(name);
    if (!raw) return [];
    try {
      var value = JSON.parse(raw);
      return (Array.isArray(value) ? value : [value]).filter(function (v) { return v !== null; }).map(String);
    } catch (e) {
      return raw.split(",").filter(Boolean);
    }
  }

  function compare(runs) {
    return runs.length ? "/compare?runs=" + runs.map(enc).join(",") : null;
  }

  function experimentRoute(parts) {
    var id = parts[1];
    var tab = parts[2];
    var sub = parts[3];
    if (!id) return "/";
    var page = "/experiments/" + enc(id);
    if ((tab === "runs" || tab === "evaluation-runs") && sub) {
      var run = "/runs/" + enc(sub);
      if (parts[4] === "artifactPath" && parts.length > 5) {
        return run + "?artifact=" + enc(parts.slice(5).join("/")) + "#artifacts-section";
      }
      return run;
    }
    if (tab === "models") return sub ? page + "/models/" + enc(sub) : page + "/models";
    return page;
  }

  function modelRoute(parts) {
    var name = parts[1];
    if (!name) return "/models";
    var page = "/models/" + enc(name);
    if (parts[2] === "versions" && parts[3]) return page + "/versions/" + enc(parts[3]);
    return page;
  }

  // The mltrail path (below the base) for an MLflow hash, or null.
  function target(hash) {
    if (!hash || hash.indexOf("#/") !== 0) return null;
    var rest = hash.slice(1);
    var at = rest.indexOf("?");
    var params = new URLSearchParams(at >= 0 ? rest.slice(at + 1) : "");
    var parts = (at >= 0 ? rest.slice(0, at) : rest).split("/").filter(Boolean).map(decode);
    switch (parts[0]) {
      case undefined:
      case "experiments":
        return experimentRoute(parts);
      case "runs":
        return parts[1] ? "/runs/" + enc(parts[1]) : "/";
      case "compare-runs":
      case "metric":
        return compare(list(params, "runs")) || "/";
      case "compare-experiments":
        var ids = list(params, "experiments");
        return ids.length ? "/experiments/" + enc(ids[0]) : "/";
      case "models":
        return modelRoute(parts);
      case "compare-model-versions":
        var name = list(params, "name")[0];
        return name ? "/models/" + enc(decode(name)) : "/models";
      default:
        return null;
    }
  }

  var meta = document.querySelector('meta[name="mltrail-base"]');
  var base = meta ? meta.content : "";
  var onLogin = /\/login$/.test(window.location.pathname);

  function follow() {
    var path = target(window.location.hash);
    if (path === null) return;
    if (onLogin) {
      var next = document.querySelector('input[name="next"]');
      if (next) next.value = path;
      return;
    }
    window.location.replace(base + path);
  }

  // A link pasted into a tab already on the dashboard only changes the hash.
  window.addEventListener("hashchange", follow);
  if (onLogin) document.addEventListener("DOMContentLoaded", follow);
  else follow();
})();
