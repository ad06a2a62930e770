// cronq web: the page's few live parts. Served by cronq itself; no inline script anywhere (the CSP says so).
"use strict";

// The live tail: Server-Sent Events, newest first, never more than MAX rows (a tab left open for a day
// at 1,000 events a second must not grow).
const MAX = 500;

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text); // text, never HTML: an event is untrusted input
  if (cls) td.className = cls;
  tr.appendChild(td);
}

function startLive(table) {
  const body = table.querySelector("tbody");
  const state = document.getElementById("live-state");
  let seen = 0;
  const source = new EventSource(table.dataset.source);
  source.onopen = () => { state.textContent = "connected"; };
  source.onerror = () => { state.textContent = "reconnecting…"; };
  source.onmessage = (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (_) { return; }
    const tr = document.createElement("tr");
    tr.className = "ev-" + String(e.event || "").replace(/[^a-z_]/g, "");
    cell(tr, e.at);
    cell(tr, e.event);
    cell(tr, e.job);
    cell(tr, e.attempt, "num");
    cell(tr, e.status, "num");
    cell(tr, e.duration_ms == null ? "" : e.duration_ms + " ms", "num");
    cell(tr, e.message_id);
    cell(tr, e.event === "succeeded" ? "" : e.error, "err");
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > MAX) body.deleteRow(body.rows.length - 1);
    seen += 1;
    state.textContent = "connected · " + seen + " events";
    table.dataset.seen = String(seen);
  };
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live) startLive(live);
  // "select all" on the dead-letter list.
  for (const all of document.querySelectorAll("input.all")) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll("#dead input[name=id]")) box.checked = all.checked;
    });
  }
  // A page with a running replay or purge refreshes itself to show progress.
  const refresh = document.body.dataset.refresh;
  if (refresh) setTimeout(() => location.reload(), Number(refresh) * 1000);
});
