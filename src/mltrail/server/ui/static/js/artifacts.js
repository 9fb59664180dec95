// The artifact browser: a lazily loaded folder tree and a preview pane. Everything from the
// server is inserted with textContent; HTML and SVG files are shown as text, never rendered.
(function () {
  "use strict";
  var m = window.mltrail, el = m.el;
  var root = document.getElementById("artifacts");
  if (!root) return;
  var runId = root.getAttribute("data-run");
  var tree = document.getElementById("artifact-tree");
  var pane = document.getElementById("artifact-preview");
  var current = null;

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function sizeText(n) {
    if (n === null || n === undefined) return "";
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  function listInto(ul, path) {
    return m.getJSON("/ui-api/artifacts", { run_id: runId, path: path }).then(function (body) {
      clear(ul);
      if (!body.files.length && !path) {
        var li = el("li", { "class": "muted" }, "No artifacts. Log files with mltrail.log_artifact(path) or mltrail.log_dict(data, \"file.json\").");
        ul.appendChild(li);
      }
      body.files.forEach(function (f) {
        var li = el("li");
        var btn = el("button", { type: "button", "data-path": f.path, "data-dir": f.is_dir ? "1" : "0",
                                 title: f.path + (f.is_dir ? "" : " (" + sizeText(f.size) + ")") },
                     (f.is_dir ? "▸ " : "") + f.name);
        li.appendChild(btn);
        if (f.is_dir) {
          var child = el("ul"); child.hidden = true; li.appendChild(child);
          btn.setAttribute("aria-expanded", "false");
        }
        ul.appendChild(li);
      });
    }).catch(function (err) {
      clear(ul); ul.appendChild(el("li", { "class": "error-banner" }, err.message));
    });
  }

  function select(btn) {
    if (current) current.removeAttribute("aria-current");
    current = btn; btn.setAttribute("aria-current", "true");
    var path = btn.getAttribute("data-path");
    m.setParam("artifact", path);
    if (btn.getAttribute("data-dir") === "1") {
      var ul = btn.parentNode.querySelector("ul");
      var open = btn.getAttribute("aria-expanded") === "true";
      btn.setAttribute("aria-expanded", open ? "false" : "true");
      btn.textContent = (open ? "▸ " : "▾ ") + btn.getAttribute("data-path").split("/").pop();
      ul.hidden = open;
      var loaded = open ? Promise.resolve() : listInto(ul, path);
      return loaded.then(function () { return show(path); });
    }
    return show(path);
  }

  function heading(path, body) {
    var head = el("div", { "class": "inline" });
    head.appendChild(el("strong", { "class": "mono" }, path));
    if (body.size !== undefined) head.appendChild(el("span", { "class": "muted" }, sizeText(body.size)));
    if (body.kind !== "folder" && body.kind !== "model") {
      var dl = el("a", { href: m.base + "/ui-api/artifact-raw?run_id=" + encodeURIComponent(runId) + "&path=" + encodeURIComponent(path), download: "" }, "Download");
      head.appendChild(dl);
    }
    return head;
  }

  function show(path) {
    clear(pane); pane.appendChild(el("p", { "class": "muted" }, "Loading preview…"));
    return m.getJSON("/ui-api/artifact-preview", { run_id: runId, path: path }).then(function (body) {
      clear(pane);
      pane.appendChild(heading(path, body));
      if (body.note) pane.appendChild(el("p", { "class": "muted" }, body.note));
      var k = body.kind;
      if (k === "image") {
        pane.appendChild(el("img", { alt: path, "class": "artifact-image",
          src: m.base + "/ui-api/artifact-raw?run_id=" + encodeURIComponent(runId) + "&path=" + encodeURIComponent(path) }));
      } else if (k === "text" || k === "json" || k === "yaml") {
        pane.appendChild(el("pre", { "class": "artifact-text", "data-kind": k }, body.text));
      } else if (k === "table") {
        pane.appendChild(table(body));
      } else if (k === "model") {
        pane.appendChild(model(path, body));
      } else if (k === "folder") {
        pane.appendChild(el("p", { "class": "muted" }, body.entries + " entries. Pick a file on the left."));
      } else {
        pane.appendChild(el("p", { "class": "muted" }, "Binary file: no preview. Use Download."));
      }
      if (body.truncated) pane.appendChild(el("p", { "class": "hint" }, "Preview shows the first 512 KB."));
    }).catch(function (err) {
      clear(pane); pane.appendChild(el("div", { "class": "error-banner" }, err.message));
    });
  }

  function table(body) {
    var wrap = el("div", { "class": "table-wrap" });
    var t = el("table", { "class": "grid artifact-table" });
    var thead = el("thead"), tr = el("tr");
    body.header.forEach(function (h) { tr.appendChild(el("th", null, h)); });
    thead.appendChild(tr); t.appendChild(thead);
    var tbody = el("tbody");
    body.rows.forEach(function (row) {
      var r = el("tr");
      row.forEach(function (c) {
        var num = c !== "" && !isNaN(Number(c));
        r.appendChild(el("td", num ? { "class": "num" } : null, num ? m.fmt(Number(c)) : c));
      });
      tbody.appendChild(r);
    });
    t.appendChild(tbody); wrap.appendChild(t);
    if (body.more_rows) wrap.appendChild(el("p", { "class": "hint" }, "Showing the first " + body.rows.length + " rows."));
    return wrap;
  }

  function model(path, body) {
    var box = el("div", { "class": "model-preview" });
    box.appendChild(el("h3", null, "Model"));
    box.appendChild(el("p", null, "Flavors: " + (body.flavors.join(", ") || "none")));
    if (body.signature) {
      ["inputs", "outputs", "params"].forEach(function (part) {
        var spec = body.signature[part];
        if (!spec) return;
        box.appendChild(el("h4", null, "Signature " + part));
        if (Array.isArray(spec)) {
          var t = el("table", { "class": "grid signature" });
          var head = el("tr"); ["name", "type", "shape"].forEach(function (h) { head.appendChild(el("th", null, h)); });
          t.appendChild(head);
          spec.forEach(function (col) {
            var row = el("tr");
            row.appendChild(el("td", null, col.name === undefined ? "" : col.name));
            row.appendChild(el("td", null, col.type || (col.tensor_spec && col.tensor_spec.dtype) || ""));
            row.appendChild(el("td", null, col.tensor_spec ? JSON.stringify(col.tensor_spec.shape) : ""));
            t.appendChild(row);
          });
          box.appendChild(t);
        } else {
          box.appendChild(el("pre", null, JSON.stringify(spec, null, 2)));
        }
      });
    } else {
      box.appendChild(el("p", { "class": "muted" }, "No signature was logged with this model."));
    }
    box.appendChild(el("h4", { id: "load-model" }, "How to load this model"));
    var uri = "runs:/" + runId + "/" + path;
    box.appendChild(el("pre", { "class": "load-snippet" },
      "import mltrail\n\nmodel = mltrail.pyfunc.load_model(\"" + uri + "\")\npredictions = model.predict(data)"));
    box.appendChild(el("p", { "class": "hint" }, "With the mlflow client: mlflow.pyfunc.load_model(\"" + uri + "\") against this server."));
    var details = el("details");
    details.appendChild(el("summary", null, "MLmodel file"));
    details.appendChild(el("pre", null, body.mlmodel));
    box.appendChild(details);
    return box;
  }

  tree.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("button[data-path]") : null;
    if (btn) select(btn);
  });

  var top = el("ul");
  clear(tree); tree.appendChild(top);
  listInto(top, "").then(function () {
    // Re-open the artifact named in the URL (folders along the way are expanded).
    var wanted = new URL(window.location.href).searchParams.get("artifact");
    if (!wanted) return;
    var parts = wanted.split("/"), prefix = "";
    var chain = Promise.resolve();
    parts.forEach(function (part) {
      chain = chain.then(function () {
        prefix = prefix ? prefix + "/" + part : part;
        var btn = Array.prototype.find.call(tree.querySelectorAll("button[data-path]"), function (b) {
          return b.getAttribute("data-path") === prefix;
        });
        if (btn) return select(btn);
      });
    });
  });
})();
