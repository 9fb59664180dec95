// The sharing dialog of the runs page: grants to users and groups and the "everyone signed
// in" switch of the experiment, through /api/v1/permissions. Requests carry the page's CSRF
// token in X-CSRF-Token (the server refuses cookie-authenticated changes without it). Names
// are inserted as text only. What the dialog says about everyone else is computed from what
// the server answers (its default permission and the switch), never assumed.
(function () {
  "use strict";

  var LEVELS = ["NONE", "READ", "EDIT", "MANAGE"];

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

  function byName(key) {
    return function (a, b) { return a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0; };
  }

  // One sentence on everyone without a grant of their own or of a group.
  function summary(data) {
    var dflt = data.default_permission || "NONE";
    var others = data.others_permission || "NONE";
    var switched = data.signed_in_permission || "NONE";
    if (others === "NONE") {
      return "Nobody else can see this experiment: only the users and groups above, and admins " +
        "(the server's default permission is NONE).";
    }
    var why = LEVELS.indexOf(switched) >= LEVELS.indexOf(dflt)
      ? "this experiment is open to everyone signed in"
      : "the server's default permission is " + dflt + "; a user's own grant replaces it";
    return "Every other signed-in user may " + others + " (" + why + "). Admins may do everything.";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var open = document.getElementById("sharing-open");
    var dialog = document.getElementById("sharing-dialog");
    if (!open || !dialog) return;
    var el = window.mltrail.el;
    var path = "/api/v1/permissions/experiments/" + encodeURIComponent(open.getAttribute("data-experiment"));
    var body = dialog.querySelector("#sharing-grants tbody");
    var status = document.getElementById("sharing-status");
    var summaryLine = document.getElementById("sharing-summary");
    var signedIn = document.getElementById("sharing-signed-in");
    var form = document.getElementById("sharing-form");
    var kind = document.getElementById("sharing-kind");
    var nameLabel = document.getElementById("sharing-name-label");

    function say(text, isError) {
      status.textContent = text;
      status.className = "status" + (isError ? " error" : "");
    }

    function who(isGroup, name) { return isGroup ? "group " + name : name; }

    function grant(isGroup, name, level) {
      var payload = { permission: level };
      payload[isGroup ? "group" : "username"] = name;
      return request("PUT", path, payload);
    }

    function row(g, isGroup) {
      var name = isGroup ? g.group : g.username;
      var attrs = isGroup ? { "data-group": name } : { "data-username": name };
      var tr = el("tr", attrs);
      var label = el("td", { "class": "grant-user" });
      if (isGroup) label.appendChild(el("span", { "class": "badge" }, "group"));
      label.appendChild(document.createTextNode((isGroup ? " " : "") + name));
      tr.appendChild(label);
      var cell = el("td");
      var select = el("select", { "aria-label": "Permission of " + who(isGroup, name), "class": "grant-level" });
      ["READ", "EDIT", "MANAGE"].forEach(function (level) {
        var option = el("option", { value: level }, level);
        if (level === g.permission) option.selected = true;
        select.appendChild(option);
      });
      select.addEventListener("change", function () {
        grant(isGroup, name, select.value).then(function () {
          say(who(isGroup, name) + " now has " + select.value + ".");
        }, function (err) { say(err.message, true); load(); });
      });
      cell.appendChild(select);
      tr.appendChild(cell);
      var actions = el("td");
      var revoke = el("button", { type: "button", "class": "danger grant-revoke" }, "Revoke");
      revoke.addEventListener("click", function () {
        var target = isGroup ? "/groups/" + encodeURIComponent(name) : "/" + encodeURIComponent(name);
        request("DELETE", path + target).then(function () {
          say("Revoked the grant of " + who(isGroup, name) + ".");
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
        (data.permissions || []).slice().sort(byName("username")).forEach(function (g) {
          body.appendChild(row(g, false));
        });
        (data.group_permissions || []).slice().sort(byName("group")).forEach(function (g) {
          body.appendChild(row(g, true));
        });
        signedIn.value = data.signed_in_permission || "NONE";
        summaryLine.textContent = summary(data);
      }, function (err) { say(err.message, true); });
    }

    open.addEventListener("click", function () {
      say("");
      dialog.showModal();
      load();
    });
    kind.addEventListener("change", function () {
      nameLabel.textContent = kind.value === "group" ? "Group name" : "User name";
    });
    signedIn.addEventListener("change", function () {
      var level = signedIn.value;
      request("PUT", path + "/signed-in", { permission: level }).then(function () {
        say(level === "NONE" ? "The experiment is no longer open to everyone signed in."
          : "Everyone signed in may now " + level + ".");
        load();
      }, function (err) { say(err.message, true); load(); });
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var isGroup = kind.value === "group";
      var name = form.elements.username.value.trim();
      var level = form.elements.permission.value;
      if (!name) return;
      grant(isGroup, name, level).then(function () {
        say(who(isGroup, name) + " now has " + level + ".");
        form.elements.username.value = "";
        load();
      }, function (err) { say(err.message, true); });
    });
  });
})();
