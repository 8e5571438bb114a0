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

document.addEventListener("DOMContentLoaded", () => {
  const run = document.querySelector("[data-run-events]");
  if (run) followRun(run);
  const station = document.querySelector("[data-station-events]");
  if (station) followStation(station);
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }
});
