// 3ox serve: the dashboard's one script. Live updates from Server-Sent Events; nothing here
// builds HTML from data (text only), so agent output stays text.
"use strict";

function setState(el, status) {
  if (!el || !status) return;
  for (const c of Array.from(el.classList)) {
    if (c.startsWith("state-")) el.classList.remove(c);
  }
  el.classList.add("state-" + status);
}

// A run's page: recolour the diagram and the task table as records arrive.
function followRun(box) {
  const url = box.dataset.runEvents + "?after=" + encodeURIComponent(box.dataset.seq || "0");
  const statusEl = document.getElementById("run-status");
  const initial = statusEl ? statusEl.textContent : "";
  const source = new EventSource(url);
  source.addEventListener("record", (e) => {
    const d = JSON.parse(e.data);
    box.dataset.seq = String(d.seq);
    if (d.task_ref && d.task_status) {
      for (const node of document.querySelectorAll(".diagram [data-ref]")) {
        if (node.getAttribute("data-ref") === d.task_ref) setState(node, d.task_status);
      }
      let row = null;
      for (const r of document.querySelectorAll("tr[data-task-row]")) {
        if (r.getAttribute("data-task-row") === d.task_ref) row = r;
      }
      if (row) {
        const cell = row.querySelector("[data-field=status]");
        cell.textContent = d.task_status;
        setState(cell, d.task_status);
      }
    }
    if (statusEl && d.run_status) {
      statusEl.textContent = d.run_status;
      setState(statusEl, d.run_status);
      if (d.run_status !== initial) document.getElementById("run-ended").hidden = false;
    }
  });
  source.addEventListener("reload", () => { source.close(); window.location.reload(); });
}

// The runs page and the approvals page: rows change in place; anything else asks to reload.
function followStation(box) {
  const source = new EventSource(box.dataset.stationEvents);
  const note = document.getElementById("new-runs");
  source.addEventListener("run", (e) => {
    const d = JSON.parse(e.data);
    let row = null;
    for (const r of document.querySelectorAll("tr[data-run]")) {
      if (r.getAttribute("data-run") === d.run_id) row = r;
    }
    if (!row) { if (note) note.hidden = false; return; }
    const status = row.querySelector("[data-field=status]");
    if (status) { status.textContent = d.status; setState(status, d.status); }
    const tasks = row.querySelector("[data-field=tasks]");
    if (tasks) tasks.textContent = d.tasks_done + "/" + d.tasks_total;
  });
}

// The workflow editor: the text is checked as you type (a debounced POST to the page's
// check endpoint, the same validator as `3ox validate`); the problems are listed with their
// line:col and marked in the line-number gutter; the diagram is redrawn. The server's SVG is
// its own rendering of the workflow (every label escaped there), put in as it comes.
function editWorkflow(form) {
  const text = document.getElementById("yaml");
  const gutter = document.getElementById("gutter");
  const list = document.getElementById("diagnostics");
  const diagram = document.getElementById("editor-diagram");
  const verdict = document.getElementById("verdict");
  const status = document.getElementById("save-status");
  const csrf = form.querySelector("input[name=csrf]").value;
  let timer = null;
  let asked = 0;

  function body() {
    return new URLSearchParams({ csrf: csrf, yaml: text.value });
  }
  function numbers(marks) {
    const count = Math.max(1, text.value.split("\n").length);
    gutter.textContent = "";
    for (let n = 1; n <= count; n++) {
      const span = document.createElement("span");
      span.dataset.line = String(n);
      span.textContent = String(n);
      const mark = marks.get(n);
      if (mark) { span.className = mark.severity; span.title = mark.message; }
      gutter.appendChild(span);
      gutter.appendChild(document.createTextNode("\n"));
    }
  }
  function goTo(line) {
    const lines = text.value.split("\n");
    let at = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
    text.focus();
    text.setSelectionRange(at, at + (lines[line - 1] || "").length);
  }
  function show(diagnostics) {
    list.textContent = "";
    const marks = new Map();
    for (const d of diagnostics) {
      const li = document.createElement("li");
      li.className = d.severity;
      li.dataset.line = String(d.line);
      const where = document.createElement("a");
      where.textContent = d.line + ":" + d.column;
      where.addEventListener("click", () => goTo(d.line));
      li.appendChild(where);
      li.appendChild(document.createTextNode(" " + d.severity + ": " + d.message + (d.hint ? " (hint: " + d.hint + ")" : "")));
      list.appendChild(li);
      if (!marks.has(d.line) || d.severity === "error") marks.set(d.line, d);
    }
    numbers(marks);
  }
  async function check() {
    const mine = ++asked;
    const response = await fetch(form.dataset.check, { method: "POST", body: body(), credentials: "same-origin" });
    const d = await response.json();
    if (mine !== asked) return;
    if (d.error) { verdict.textContent = d.error; return; }
    show(d.diagnostics);
    verdict.textContent = d.valid ? "valid" : "invalid";
    setState(verdict, d.valid ? "COMPLETED" : "FAILED");
    form.dataset.valid = d.valid ? "yes" : "no";
    if (d.diagram) diagram.innerHTML = d.diagram;
  }
  text.addEventListener("input", () => {
    numbers(new Map());
    status.textContent = "";
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });
  text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const response = await fetch(form.dataset.save, { method: "POST", body: body(), credentials: "same-origin" });
    const d = await response.json();
    if (d.saved) {
      status.textContent = "saved " + d.file;
    } else {
      status.textContent = "not saved: " + (d.reason || "refused");
      if (d.diagnostics) show(d.diagnostics);
    }
  });
  check();
}

document.addEventListener("DOMContentLoaded", () => {
  const run = document.querySelector("[data-run-events]");
  if (run) followRun(run);
  const station = document.querySelector("[data-station-events]");
  if (station) followStation(station);
  const editor = document.getElementById("editor");
  if (editor) editWorkflow(editor);
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }
});
