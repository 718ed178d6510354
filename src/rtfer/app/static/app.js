// rtfer web page: live webcam sessions and uploaded videos, valence chart, notes. No third-party code.

const params = new URLSearchParams(location.search);
const token = params.get("token");
const withToken = (url) => (token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url);
const $ = (id) => document.getElementById(id);

const state = {
  labels: [], colors: {}, session: null, points: [], changes: [], notes: [],
  live: null, review: null, startedAt: 0, pausedFor: 0, pausedAt: null,
};

async function api(path, options = {}) {
  const response = await fetch(withToken(path), {
    ...options, headers: { "content-type": "application/json", ...(options.headers || {}) },
  });
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).detail || response.statusText);
  return response.status === 204 ? null : response.json();
}

// ---- sessions list -----------------------------------------------------------------------------
async function refreshSessions() {
  const sessions = await api("/api/sessions");
  const list = $("session-list");
  list.replaceChildren(...sessions.map((s) => {
    const item = document.createElement("li");
    const open = Object.assign(document.createElement("button"), {
      className: "open", type: "button",
      textContent: `${s.name} (${s.kind}, ${s.status}${s.status === "processing" ? ` ${Math.round(s.progress * 100)}%` : ""})`,
    });
    open.onclick = () => openSession(s.id);
    const rename = Object.assign(document.createElement("button"), { className: "small", type: "button", textContent: "Rename" });
    rename.onclick = async () => {
      const name = prompt("New name", s.name);
      if (name) { await api(`/api/sessions/${s.id}`, { method: "PATCH", body: JSON.stringify({ name }) }); refreshSessions(); }
    };
    const remove = Object.assign(document.createElement("button"), { className: "small", type: "button", textContent: "Delete" });
    remove.onclick = async () => {
      if (confirm(`Delete "${s.name}" and all its files?`)) {
        await api(`/api/sessions/${s.id}`, { method: "DELETE" });
        if (state.session?.id === s.id) closeWorkspace();
        refreshSessions();
      }
    };
    item.append(open, rename, remove);
    return item;
  }));
  return sessions;
}

// ---- workspace ---------------------------------------------------------------------------------
function showWorkspace(session) {
  state.session = session;
  state.points = []; state.changes = []; state.notes = session.notes || [];
  $("workspace").hidden = false;
  $("workspace-title").textContent = session.name;
  $("download-csv").href = withToken(`/api/sessions/${session.id}/timeline.csv`);
  $("download-json").href = withToken(`/api/sessions/${session.id}/summary.json`);
  $("download-html").href = withToken(`/api/sessions/${session.id}/report.html`);
  $("download-pdf").href = withToken(`/api/sessions/${session.id}/report.pdf`);
  $("pause").hidden = $("stop").hidden = session.kind !== "live" || session.status !== "live";
  renderNotes(); renderChanges(); drawChart();
}

function closeWorkspace() {
  stopLive();
  state.session = null;
  $("workspace").hidden = true;
}

async function openSession(id) {
  stopLive();
  const session = await api(`/api/sessions/${id}`);
  showWorkspace(session);
  const video = $("video");
  video.srcObject = null;
  $("overlay").getContext("2d").clearRect(0, 0, $("overlay").width, $("overlay").height);
  $("current-label").textContent = "";
  state.review = false;
  if (session.kind === "upload" && session.status === "done") {
    const summary = await api(`/api/sessions/${id}/summary.json`);
    const csv = await (await fetch(withToken(`/api/sessions/${id}/timeline.csv`))).text();
    state.points = parseTimeline(csv);
    state.changes = summary.change_points;
    video.src = withToken(`/api/sessions/${id}/video`);
    video.controls = true;
    state.review = true;
    video.ontimeupdate = () => { showAt(video.currentTime); drawChart(video.currentTime); };
  } else if (session.kind === "live") {
    const csv = await (await fetch(withToken(`/api/sessions/${id}/timeline.csv`))).text();
    state.points = parseTimeline(csv);
  }
  renderChanges(); drawChart();
}

function parseTimeline(csv) {
  const [header, ...lines] = csv.trim().split("\n");
  const columns = header.split(",");
  return lines.map((line) => {
    const cells = line.split(",");
    const row = Object.fromEntries(columns.map((c, i) => [c, cells[i]]));
    const byPrefix = (prefix) => Object.fromEntries(columns.filter((c) => c.startsWith(prefix))
      .map((c) => [c.slice(prefix.length), Number(row[c] || 0)]));
    const number = (key) => (row[key] === undefined || row[key] === "" ? null : Number(row[key]));
    // the bars show the smoothed probabilities the label comes from (raw ones in files made before them)
    const smoothed = columns.some((c) => c.startsWith("s_"));
    return {
      t: Number(row.time_s), v: number("valence_smooth"), lo: number("valence_low"), hi: number("valence_high"),
      vc: number("valence_corrected_smooth"),
      label: row.label || null, face: row.face_found === "1", probs: byPrefix(smoothed ? "s_" : "p_"),
      intensity: byPrefix("i_"),
      box: row.face_found === "1" ? [Number(row.x), Number(row.y), Number(row.w), Number(row.h)] : null,
    };
  });
}

function showAt(time) {
  let nearest = null;
  for (const p of state.points) { if (p.t <= time) nearest = p; else break; }
  if (!nearest) return;
  renderBars(nearest.probs);
  if (state.intensity) renderBars(nearest.intensity, "intensity-bars");
  $("current-label").textContent = nearest.label || "no face";
  const video = $("video");
  const faces = nearest.box ? [{ box: nearest.box, label: nearest.label, track_id: 1 }] : [];
  drawOverlay({ frame_size: [video.videoWidth, video.videoHeight], faces, subject: 1 });
}

// ---- live session ------------------------------------------------------------------------------
async function startLive() {
  const name = $("session-name").value.trim() || "Live session";
  const session = await api("/api/sessions", { method: "POST", body: JSON.stringify({ name }) });
  await refreshSessions();
  showWorkspace({ ...session, notes: [] });
  const video = $("video");
  video.controls = false;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (error) {
    $("current-label").textContent = `camera unavailable: ${error.name}`;
    return;
  }
  video.srcObject = stream;
  await video.play();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(withToken(`${scheme}://${location.host}/api/sessions/${session.id}/live`));
  socket.binaryType = "arraybuffer";
  const capture = document.createElement("canvas");
  state.live = { socket, stream, capture, inFlight: false, paused: false, timer: null };
  state.startedAt = performance.now(); state.pausedFor = 0; state.pausedAt = null;
  socket.onopen = () => sendFrame();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "result") onResult(message);
    state.live.inFlight = false;
    // backpressure: the next frame goes out only when this one is answered
    setTimeout(sendFrame, 0);
  };
  socket.onclose = () => { if (state.live) state.live.inFlight = false; };
  state.live.timer = setInterval(updateTimer, 250);
}

function sessionTime() {
  const paused = state.pausedFor + (state.pausedAt ? performance.now() - state.pausedAt : 0);
  return (performance.now() - state.startedAt - paused) / 1000;
}

function updateTimer() {
  const t = Math.max(0, Math.floor(sessionTime()));
  $("session-timer").textContent = `${String(Math.floor(t / 60)).padStart(2, "0")}:${String(t % 60).padStart(2, "0")}`;
}

function sendFrame() {
  const live = state.live;
  if (!live || live.paused || live.inFlight || live.socket.readyState !== WebSocket.OPEN) return;
  const video = $("video");
  if (!video.videoWidth) { setTimeout(sendFrame, 50); return; }
  const scale = Math.min(1, 640 / video.videoWidth);
  live.capture.width = Math.round(video.videoWidth * scale);
  live.capture.height = Math.round(video.videoHeight * scale);
  live.capture.getContext("2d").drawImage(video, 0, 0, live.capture.width, live.capture.height);
  live.inFlight = true;
  const time = sessionTime();
  live.capture.toBlob(async (blob) => {
    const header = new DataView(new ArrayBuffer(8));
    header.setFloat64(0, time, true);
    live.socket.send(new Blob([header, blob]));
  }, "image/jpeg", 0.8);
}

function onResult(message) {
  const [lo, hi] = message.valence_band || [null, null];
  state.points.push({ t: message.time_s, v: message.valence_smooth, lo, hi, label: message.label,
    face: message.subject !== null });
  if (message.change) state.changes.push(message.change);
  const subject = message.faces.find((f) => f.track_id === message.subject);
  $("current-label").textContent = subject ? `${message.label} (${message.valence_smooth?.toFixed(2)})` : "no face";
  if (subject && message.smooth_probabilities) renderBars(message.smooth_probabilities);
  if (subject && subject.intensity) renderBars(subject.intensity, "intensity-bars");
  drawOverlay(message);
  updateSubjectChoice(message.faces, message.subject);
  renderChanges(); drawChart();
}

function updateSubjectChoice(faces, subject) {
  const select = $("subject-select");
  $("subject-choice").hidden = faces.length < 2;
  const ids = faces.map((f) => String(f.track_id));
  if ([...select.options].map((o) => o.value).join() !== ["", ...ids].join()) {
    select.replaceChildren(new Option("largest face", ""), ...ids.map((id) => new Option(`face ${id}`, id)));
  }
  select.value = select.dataset.chosen || "";
}

function drawOverlay(message) {
  const canvas = $("overlay");
  const [width, height] = message.frame_size;
  canvas.width = width; canvas.height = height;
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, width, height);
  for (const face of message.faces) {
    const [x, y, w, h] = face.box;
    context.strokeStyle = state.colors[face.label] || "#fff";
    context.lineWidth = face.track_id === message.subject ? 4 : 2;
    context.strokeRect(x, y, w, h);
    context.fillStyle = context.strokeStyle;
    context.font = "18px system-ui";
    context.fillText(state.review ? face.label : `${face.track_id}: ${face.label}`, x, Math.max(18, y - 6));
  }
}

function stopLive() {
  const live = state.live;
  if (!live) return;
  clearInterval(live.timer);
  live.socket.close();
  live.stream.getTracks().forEach((track) => track.stop());
  state.live = null;
}

// ---- rendering ---------------------------------------------------------------------------------
// the uncertainty band: one filled polygon per run of points with a band (a gap without the face ends one)
function drawBand(x, y, t0) {
  const context = $("chart").getContext("2d");
  context.fillStyle = "rgba(0, 114, 178, 0.18)";
  let run = [];
  const fill = () => {
    if (run.length > 1) {
      context.beginPath();
      run.forEach((p, i) => (i ? context.lineTo(x(p.t), y(p.hi)) : context.moveTo(x(p.t), y(p.hi))));
      [...run].reverse().forEach((p) => context.lineTo(x(p.t), y(p.lo)));
      context.closePath(); context.fill();
    }
    run = [];
  };
  for (const p of state.points) {
    if (p.t < t0 || p.lo === null || p.lo === undefined) fill(); else run.push(p);
  }
  fill();
}

function drawLine(x, y, t0, key, color) {
  const context = $("chart").getContext("2d");
  context.strokeStyle = color; context.lineWidth = 2; context.beginPath();
  let drawing = false;
  for (const p of state.points) {
    if (p.t < t0 || p[key] === null || p[key] === undefined) { drawing = false; continue; }
    if (drawing) context.lineTo(x(p.t), y(p[key])); else context.moveTo(x(p.t), y(p[key]));
    drawing = true;
  }
  context.stroke();
}

function renderBars(values, target = "bars") {
  $(target).replaceChildren(...state.labels.map((name) => {
    const value = values[name] ?? 0;
    const row = document.createElement("div");
    row.className = "bar";
    row.innerHTML = `<span>${name}</span><span class="track"><span class="fill" style="width:${(value * 100).toFixed(1)}%;background:${state.colors[name]}"></span></span><span>${(value * 100).toFixed(0)}%</span>`;
    return row;
  }));
}

function renderNotes() {
  $("note-list").replaceChildren(...state.notes.map((note) => {
    const item = document.createElement("li");
    item.textContent = `${note.time_s.toFixed(1)} s: ${note.text}`;
    return item;
  }));
}

function renderChanges() {
  $("change-list").replaceChildren(...state.changes.map((c) => {
    const item = document.createElement("li");
    item.textContent = c.text || `change at ${c.time_s.toFixed(1)} s: ${c.from} → ${c.to} (valence ${c.valence_before.toFixed(2)} → ${c.valence_after.toFixed(2)})`;
    return item;
  }));
}

function chartRange() {
  const last = state.points.length ? state.points[state.points.length - 1].t : 0;
  if (state.review) return [0, Math.max(last, $("video").duration || 0, 1)];
  return [Math.max(0, last - 60), Math.max(60, last)];  // live: the last minute
}

function drawChart(playhead = null) {
  const canvas = $("chart");
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  const [t0, t1] = chartRange();
  const x = (t) => ((t - t0) / (t1 - t0)) * width;
  const y = (v) => height / 2 - v * (height / 2 - 10);
  context.clearRect(0, 0, width, height);
  let start = 0;  // one band per run of the same emotion
  for (let i = 1; i <= state.points.length; i++) {
    if (i < state.points.length && state.points[i].label === state.points[start].label) continue;
    const first = state.points[start];
    const end = state.points[Math.min(i, state.points.length - 1)].t;
    if (first.label && end >= t0) {
      context.fillStyle = state.colors[first.label] + "40";
      context.fillRect(x(Math.max(first.t, t0)), 0, x(end) - x(Math.max(first.t, t0)), height);
    }
    start = i;
  }
  context.strokeStyle = "#888"; context.setLineDash([4, 4]);
  context.beginPath(); context.moveTo(0, y(0)); context.lineTo(width, y(0)); context.stroke();
  context.setLineDash([]);
  context.fillStyle = "#555"; context.font = "12px system-ui";
  context.fillText("+1 positive", 4, 14); context.fillText("0 neutral", 4, y(0) - 4); context.fillText("-1 negative", 4, height - 4);
  // with a baseline the corrected line is shown by default (the toggle brings back the raw one and its band)
  const corrected = state.points.some((p) => p.vc !== null && p.vc !== undefined);
  $("corrected-choice").hidden = !corrected;
  if (corrected && $("show-corrected").checked) {
    drawLine(x, y, t0, "v", "#bbb");
    drawLine(x, y, t0, "vc", "#D55E00");
  } else {
    drawBand(x, y, t0);
    drawLine(x, y, t0, "v", "#111");
  }
  context.strokeStyle = "#CC0000"; context.lineWidth = 1.5;
  for (const c of state.changes) {
    if (c.time_s < t0) continue;
    context.beginPath(); context.moveTo(x(c.time_s), 0); context.lineTo(x(c.time_s), height); context.stroke();
  }
  if (playhead !== null) {
    context.strokeStyle = "#0072B2"; context.lineWidth = 2;
    context.beginPath(); context.moveTo(x(playhead), 0); context.lineTo(x(playhead), height); context.stroke();
  }
  canvas.dataset.points = String(state.points.length);
}

// ---- events ------------------------------------------------------------------------------------
$("start-live").onclick = () => startLive().catch((e) => { $("current-label").textContent = e.message; });
$("pause").onclick = () => {
  if (!state.live) return;
  state.live.paused = !state.live.paused;
  $("pause").textContent = state.live.paused ? "Resume" : "Pause";
  if (state.live.paused) state.pausedAt = performance.now();
  else { state.pausedFor += performance.now() - state.pausedAt; state.pausedAt = null; sendFrame(); }
};
$("stop").onclick = async () => {
  if (!state.session) return;
  stopLive();
  await api(`/api/sessions/${state.session.id}/stop`, { method: "POST" });
  $("pause").hidden = $("stop").hidden = true;
  refreshSessions();
};
$("show-corrected").onchange = () => drawChart(state.review ? $("video").currentTime : null);
$("subject-select").onchange = (event) => {
  event.target.dataset.chosen = event.target.value;
  const trackId = event.target.value === "" ? null : Number(event.target.value);
  state.live?.socket.send(JSON.stringify({ type: "select", track_id: trackId }));
};
$("note-form").onsubmit = async (event) => {
  event.preventDefault();
  if (!state.session) return;
  const time = state.review ? $("video").currentTime : state.live ? sessionTime() : 0;
  const note = await api(`/api/sessions/${state.session.id}/notes`, {
    method: "POST", body: JSON.stringify({ time_s: time, text: $("note-text").value }),
  });
  state.notes.push(note); $("note-text").value = ""; renderNotes();
};
$("chart").onclick = (event) => {
  if (!state.review) return;
  const [t0, t1] = chartRange();
  const rect = event.target.getBoundingClientRect();
  $("video").currentTime = t0 + ((event.clientX - rect.left) / rect.width) * (t1 - t0);
};
$("chart").onkeydown = (event) => {
  if (!state.review || !["ArrowLeft", "ArrowRight"].includes(event.key)) return;
  $("video").currentTime += event.key === "ArrowLeft" ? -5 : 5;
};
$("upload-input").onchange = (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  const request = new XMLHttpRequest();
  request.open("POST", withToken(`/api/uploads${$("upload-baseline").checked ? "?baseline_s=20" : ""}`));
  $("upload-progress").hidden = false;
  request.upload.onprogress = (e) => { $("upload-progress").value = e.loaded / e.total; };
  request.onload = async () => {
    const body = JSON.parse(request.responseText);
    if (request.status !== 202) { $("upload-status").textContent = body.detail; return; }
    $("upload-status").textContent = "analysing…";
    const poll = setInterval(async () => {
      const sessions = await refreshSessions();
      const session = sessions.find((s) => s.id === body.id);
      if (!session) { clearInterval(poll); return; }
      $("upload-progress").value = session.progress;
      if (session.status === "done" || session.status === "failed") {
        clearInterval(poll);
        $("upload-status").textContent = session.status === "done" ? "done" : `failed: ${session.error}`;
        if (session.status === "done") openSession(session.id);
      }
    }, 1000);
  };
  request.send(form);
};

const health = await api("/api/health");
state.labels = health.labels; state.colors = health.colors; state.intensity = health.intensity;
$("intensity-panel").hidden = !health.intensity;
refreshSessions();
