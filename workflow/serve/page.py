"""The web page at ``/``: pick or drop an image, see the annotated image and the top-k as bars.

One self-contained HTML document (inline CSS and JS, no build step, nothing fetched from
elsewhere), so it works offline. It reads ``GET /pipeline`` and posts to ``POST /run?image=png``.
"""

from __future__ import annotations

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>workflow serve</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  #tasks { color: #555; margin-top: 0; }
  #drop { border: 2px dashed #888; border-radius: .5rem; padding: 2rem; text-align: center; cursor: pointer; }
  #drop.over { background: #eef5ff; border-color: #36c; }
  #result { display: flex; gap: 2rem; flex-wrap: wrap; margin-top: 1.5rem; }
  #annotated { max-width: 28rem; max-height: 28rem; image-rendering: auto; }
  .bar-row { display: grid; grid-template-columns: 10rem 1fr 4rem; gap: .5rem; align-items: center; margin: .25rem 0; }
  .bar { background: #36c; height: 1rem; border-radius: .2rem; }
  .label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  #status.error { color: #b00; }
  #token-box { display: none; margin: 1rem 0; }
</style>
</head>
<body>
<h1 id="name">workflow serve</h1>
<p id="tasks"></p>
<div id="token-box"><label>Bearer token <input id="token" type="password" autocomplete="off"></label>
  <button id="token-save" type="button">Use</button></div>
<div id="drop">Drop an image here, or <label><u>pick one</u>
  <input id="file" type="file" accept="image/*" hidden></label></div>
<p id="status"></p>
<div id="result">
  <div><img id="annotated" alt="annotated image" hidden></div>
  <div id="scores"></div>
</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("workflow-token") || "";
const headers = () => (token ? { Authorization: "Bearer " + token } : {});

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function loadPipeline() {
  const response = await fetch("pipeline", { headers: headers() });
  if (response.status === 401) {
    $("token-box").style.display = "block"; setStatus("a token is required", true); return;
  }
  const info = await response.json();
  $("name").textContent = info.name;
  document.title = info.name + " - workflow serve";
  $("tasks").textContent = "tasks: " + info.tasks.map((t) => t.id + " (" + t.task + ")").join(" \\u2192 ");
  window.imageInput = info.image_inputs[0] || "image";
}

function drawScores(outputs) {
  const box = $("scores");
  box.replaceChildren();
  for (const [name, value] of Object.entries(outputs)) {
    if (!value || !Array.isArray(value.classes)) continue;
    const title = document.createElement("h2");
    title.textContent = name;
    title.style.fontSize = "1rem";
    box.append(title);
    for (const c of value.classes) {
      const row = document.createElement("div");
      row.className = "bar-row";
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = c.label;
      const track = document.createElement("div");
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = Math.max(1, Math.round(c.score * 100)) + "%";
      track.append(bar);
      const score = document.createElement("span");
      score.textContent = c.score.toFixed(3);
      row.append(label, track, score);
      box.append(row);
    }
  }
}

async function send(file) {
  setStatus("running on " + file.name + "\\u2026", false);
  const form = new FormData();
  form.append(window.imageInput || "image", file, file.name);
  const response = await fetch("run?image=png", { method: "POST", body: form, headers: headers() });
  const body = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) { setStatus("error " + response.status + ": " + body.detail, true); return; }
  const images = Object.values(body.images || {});
  if (images.length) {
    $("annotated").src = "data:" + images[0].media_type + ";base64," + images[0].base64;
    $("annotated").hidden = false;
  }
  drawScores(body.outputs);
  const ms = (body.timings.total_s * 1000).toFixed(0);
  setStatus(file.name + ": " + ms + " ms (batch of " + body.timings.batch_size + ")", false);
}

$("file").addEventListener("change", (e) => { if (e.target.files.length) send(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) send(e.dataTransfer.files[0]);
});
$("token-save").addEventListener("click", () => {
  token = $("token").value;
  sessionStorage.setItem("workflow-token", token);
  $("token-box").style.display = "none";
  setStatus("", false);
  loadPipeline();
});
loadPipeline().catch((err) => setStatus("cannot read the pipeline: " + err, true));
</script>
</body>
</html>
"""
