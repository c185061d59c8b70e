// wf ui: the little the pages do in the browser. Charts are Vega-Lite specifications the
// server puts in <script type="application/json" class="chart-spec"> elements.
"use strict";

function token() {
  const meta = document.querySelector('meta[name="wf-token"]');
  return meta ? meta.content : "";
}

// Renders every chart specification of the page.
function drawCharts() {
  if (typeof vegaEmbed !== "function") return;
  for (const el of document.querySelectorAll("script.chart-spec")) {
    const target = document.getElementById(el.dataset.target);
    if (!target) continue;
    let spec;
    try { spec = JSON.parse(el.textContent); } catch (e) { target.textContent = "unreadable chart: " + e; continue; }
    vegaEmbed(target, spec, { actions: false, renderer: "svg" })
      .then(() => target.classList.add("drawn"))
      .catch((e) => { target.textContent = "cannot draw the chart: " + e; });
  }
}

// The runs table: choosing columns, enabling "compare" with two runs or more.
function runsTable() {
  const form = document.getElementById("compare-form");
  if (form) {
    const button = document.getElementById("compare");
    const update = () => {
      button.disabled = form.querySelectorAll("input.pick:checked").length < 2;
    };
    form.addEventListener("change", update);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const ids = [...form.querySelectorAll("input.pick:checked")].map((c) => c.value);
      window.location = "/compare?runs=" + ids.map(encodeURIComponent).join(",");
    });
    update();
  }
  const cols = document.getElementById("column-form");
  if (cols) {
    cols.addEventListener("submit", () => {
      const chosen = [...cols.querySelectorAll("input.col-choice:checked")].map((c) => c.value);
      document.getElementById("cols-field").value = chosen.join(",");
    });
  }
}

// Buttons that POST to the server after a confirmation: data-post, data-body, data-confirm.
function postButtons() {
  for (const b of document.querySelectorAll("button[data-post]")) {
    b.addEventListener("click", async () => {
      if (b.dataset.confirm && !window.confirm(b.dataset.confirm)) return;
      b.disabled = true;
      const answer = await fetch(b.dataset.post, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-WF-Token": token() },
        body: b.dataset.body || "{}",
      });
      const body = await answer.json().catch(() => ({}));
      const out = document.getElementById("outcome");
      if (out) {
        out.textContent = answer.ok ? body.message : body.error + (body.help ? " (" + body.help + ")" : "");
        out.className = answer.ok ? "muted" : "error";
      }
      if (answer.ok) window.setTimeout(() => window.location.reload(), 400);
      else b.disabled = false;
    });
  }
}

// The pipeline: each stage's colour follows the runs of other processes, live.
const STATE_CLASS = { running: "running", done: "fresh", restored: "fresh", failed: "failed",
                      interrupted: "stale", blocked: "blocked" };
function livePipeline() {
  const holder = document.getElementById("dag");
  const svg = holder && holder.querySelector("svg");
  if (!svg || typeof EventSource !== "function") return;
  const after = holder.dataset.liveSeq || "0";
  const source = new EventSource("/events?after=" + encodeURIComponent(after));
  source.addEventListener("stage", (ev) => {
    let change;
    try { change = JSON.parse(ev.data); } catch (e) { return; }
    const cls = STATE_CLASS[change.state];
    for (const node of svg.querySelectorAll("g.node")) {
      if (node.dataset.stage !== change.stage) continue;
      node.classList.remove("fresh", "stale", "running", "failed", "blocked");
      if (cls) node.classList.add(cls);
      node.dataset.state = change.state;
    }
    const status = document.getElementById("live-status");
    if (status) status.textContent = change.stage + ": " + change.state;
  });
  for (const node of svg.querySelectorAll("g.node")) {
    node.addEventListener("click", () => {
      window.location = "/pipeline/stages/" + encodeURIComponent(node.dataset.stage);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  drawCharts();
  runsTable();
  postButtons();
  livePipeline();
});
