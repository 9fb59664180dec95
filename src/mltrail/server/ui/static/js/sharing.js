// The sharing dialog of the runs page: list, grant and revoke permissions on the experiment
// through /api/v1/permissions. Requests carry the page's CSRF token in X-CSRF-Token (the
// server refuses cookie-authenticated changes without it). Names are inserted as text only.
(function () {
  "use strict";

  function request(method, path, body) {
    var headers = { "Accept": "application/json", "X-CSRF-Token": window.mltrail.csrf };
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(window.mltrail.base + path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error(data.message || ("HTTP " + r.status));
        return data;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var open = document.getElementById("sharing-open");
    var dialog = document.getElementById("sharing-dialog");
    if (!open || !dialog) return;
    var el = window.mltrail.el;
    var path = "/api/v1/permissions/experiments/" + encodeURIComponent(open.getAttribute("data-experiment"));
    var body = dialog.querySelector("#sharing-grants tbody");
    var empty = document.getElementById("sharing-empty");
    var status = document.getElementById("sharing-status");
    var form = document.getElementById("sharing-form");

    function say(text, isError) {
      status.textContent = text;
      status.className = "status" + (isError ? " error" : "");
    }

    function grant(username, level) {
      return request("PUT", path, { username: username, permission: level });
    }

    function row(g) {
      var tr = el("tr", { "data-username": g.username });
      tr.appendChild(el("td", { "class": "grant-user" }, g.username));
      var cell = el("td");
      var select = el("select", { "aria-label": "Permission of " + g.username, "class": "grant-level" });
      ["READ", "EDIT", "MANAGE"].forEach(function (level) {
        var option = el("option", { value: level }, level);
        if (level === g.permission) option.selected = true;
        select.appendChild(option);
      });
      select.addEventListener("change", function () {
        grant(g.username, select.value).then(function () {
          say(g.username + " now has " + select.value + ".");
        }, function (err) { say(err.message, true); load(); });
      });
      cell.appendChild(select);
      tr.appendChild(cell);
      var actions = el("td");
      var revoke = el("button", { type: "button", "class": "danger grant-revoke" }, "Revoke");
      revoke.addEventListener("click", function () {
        request("DELETE", path + "/" + encodeURIComponent(g.username)).then(function () {
          say("Revoked the grant of " + g.username + ".");
          load();
        }, function (err) { say(err.message, true); });
      });
      actions.appendChild(revoke);
      tr.appendChild(actions);
      return tr;
    }

    function load() {
      return request("GET", path).then(function (data) {
        while (body.firstChild) body.removeChild(body.firstChild);
        var grants = (data.permissions || []).slice().sort(function (a, b) {
          return a.username < b.username ? -1 : a.username > b.username ? 1 : 0;
        });
        grants.forEach(function (g) { body.appendChild(row(g)); });
        empty.hidden = grants.length > 0;
      }, function (err) { say(err.message, true); });
    }

    open.addEventListener("click", function () {
      say("");
      dialog.showModal();
      load();
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var username = form.elements.username.value.trim();
      var level = form.elements.permission.value;
      if (!username) return;
      grant(username, level).then(function () {
        say(username + " now has " + level + ".");
        form.elements.username.value = "";
        load();
      }, function (err) { say(err.message, true); });
    });
  });
})();
