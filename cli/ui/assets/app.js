// The lawyer's app's only script: nothing typed is lost, and Enter saves.
// - A form with data-draft="KEY" is copied to localStorage on every change, and brought back
//   when the page is opened again (a refresh, a closed tab) until the server confirms the save
//   (a page carrying data-saved="KEY"). The copy stays in this browser on this laptop.
// - In a form with data-submit-on-enter, Enter saves from a select or a checkbox too, and
//   Ctrl+Enter from a text area (Enter there is a new line).
"use strict";
(function () {
  function fields(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrf" || el.type === "submit") return;
      if (el.type === "checkbox") {
        out[el.name] = out[el.name] || [];
        if (el.checked) out[el.name].push(el.value);
      } else {
        out[el.name] = el.value;
      }
    });
    return out;
  }
  function restore(form, data) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in data)) return;
      if (el.type === "checkbox") el.checked = data[el.name].indexOf(el.value) >= 0;
      else if (el.type !== "hidden") el.value = data[el.name];
    });
  }
  function keyOf(form) { return "caravan.draft." + form.getAttribute("data-draft"); }
  var saved = document.querySelector("[data-saved]");
  if (saved) {
    try { localStorage.removeItem("caravan.draft." + saved.getAttribute("data-saved")); } catch (e) {}
  }
  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft]"), function (form) {
    var key = keyOf(form);
    var serverKept = form.querySelector("[aria-invalid]") || document.querySelector("p.error");
    try {
      var stored = localStorage.getItem(key);
      if (stored && !saved && !serverKept) {
        restore(form, JSON.parse(stored));
        var note = document.getElementById("draft-note");
        if (note) note.hidden = false;
      }
    } catch (e) {}
    var save = function () {
      try { localStorage.setItem(key, JSON.stringify(fields(form))); } catch (e) {}
    };
    form.addEventListener("input", save);
    form.addEventListener("change", save);
  });
  Array.prototype.forEach.call(document.querySelectorAll("form[data-submit-on-enter]"), function (form) {
    form.addEventListener("keydown", function (ev) {
      if (ev.key !== "Enter") return;
      var t = ev.target;
      if (t.tagName === "TEXTAREA") {
        if (ev.ctrlKey || ev.metaKey) { ev.preventDefault(); form.requestSubmit(); }
        return;
      }
      if (t.tagName === "SELECT" || t.type === "checkbox") { ev.preventDefault(); form.requestSubmit(); }
    });
  });
  // A hall's grid: totals per row, per column and in all, as the counts are typed.
  Array.prototype.forEach.call(document.querySelectorAll("form[data-grid]"), function (form) {
    var table = form.querySelector("table.grid");
    function count(input) { var n = parseInt(input.value, 10); return isNaN(n) || n < 0 ? 0 : n; }
    function update() {
      var rows = table.tBodies[0].rows, cols = [], all = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var sum = 0;
        Array.prototype.forEach.call(row.querySelectorAll("input"), function (input, i) {
          var n = count(input); sum += n; cols[i] = (cols[i] || 0) + n;
        });
        row.querySelector("[data-row-total]").textContent = sum;
        all += sum;
      });
      Array.prototype.forEach.call(table.querySelectorAll("[data-col-total]"), function (cell, i) {
        cell.textContent = cols[i] || 0;
      });
      table.querySelector("[data-grand-total]").textContent = all;
    }
    form.addEventListener("input", update);
    update();
  });
  // A sync or a connection under way: its progress, read every second until it ends, then the
  // page again with the result.
  var job = document.querySelector("[data-job-running]");
  if (job) {
    var poll = function () {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", "/sync/progress");
      xhr.onload = function () {
        try {
          var s = JSON.parse(xhr.responseText);
          if (!s.running) { location.reload(); return; }
          job.textContent = s.text;
          var bar = document.querySelector("progress[data-job-bar]");
          if (bar && s.total > 0) { bar.max = s.total; bar.value = s.done; }
        } catch (e) {}
        setTimeout(poll, 1000);
      };
      xhr.onerror = function () { setTimeout(poll, 2000); };
      xhr.send();
    };
    setTimeout(poll, 1000);
  }
  var invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) invalid.focus();
})();
