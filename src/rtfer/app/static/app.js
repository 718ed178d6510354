// rtfer web page: clients and their sessions, live webcam sessions and uploaded videos, the valence chart,
// notes. No third-party code.
//
// One place owns "the open session": `view`. Opening another session goes through resetView(), which stops
// the camera, empties the video, timer, bars, label, overlay, changes and notes, and bumps `view.generation`
// so that answers still on their way for the previous session are dropped instead of shown under this one.

const params = new URLSearchParams(location.search);
const token = params.get("token");
const withToken = (url) => (token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url);
const $ = (id) => document.getElementById(id);

const meta = { labels: [], colors: {}, intensity: false };

const view = {
  generation: 0, session: null, points: [], changes: [], notes: [],
  live: null,          // the camera, socket and clock of a live session run from this tab
  review: false,       // a session looked at after the fact: the playhead seeks
  hasVideo: false,     // review with the session's video (an upload kept with its video)
  playhead: 0,         // review without video: the time the chart, bars and notes refer to
  zoom: null,          // [t0, t1] shown in review; null = the whole session
};

async function api(path, options = {}) {
  const response = await fetch(withToken(path), {
    ...options, headers: { "content-type": "application/json", ...(options.headers || {}) },
  });
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).detail || response.statusText);
  return response.status === 204 ? null : response.json();
}

// m:ss, h:mm:ss past an hour
function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : `${m}:${String(s).padStart(2, "0")}`;
}

const element = (tag, { dataset = {}, style = "", ...props } = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  if (style) node.style.cssText = style;
  node.append(...children);
  return node;
};

// ---- sessions list, grouped by client ---------------------------------------------------------------
async function refreshSessions() {
  const sessions = await api("/api/sessions");
  const groups = new Map();
  for (const s of sessions) {
    if (!groups.has(s.client)) groups.set(s.client, []);
    groups.get(s.client).push(s);
  }
  $("client-options").replaceChildren(...[...groups.keys()].filter(Boolean).map((c) => element("option", { value: c })));
  $("session-list").replaceChildren(...[...groups].map(([client, items]) => {
    const heading = element("div", { className: "client-head" },
      element("h3", { textContent: client || "no client" }));
    if (client) {
      const trend = element("button", { type: "button", className: "small", textContent: "Client page" });
      trend.onclick = () => openClient(client);
      heading.append(trend);
    }
    return element("li", { className: "client-group" }, heading,
      element("ul", {}, ...items.map(sessionItem)));
  }));
  return sessions;
}

function sessionItem(s) {
  const started = new Date(s.created * 1000);
  const when = `${started.toLocaleDateString()} ${started.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
  const status = s.status === "processing" ? `processing ${Math.round(s.progress * 100)}%` : s.status;
  const open = element("button", { className: "open", type: "button", title: s.name },
    element("span", { className: "name", textContent: s.name }),
    element("span", { className: "meta", textContent:
      `${when} · ${s.duration_s ? clock(s.duration_s) : "–"} · ${s.kind}, ${status}` }));
  open.onclick = () => openSession(s.id);
  const rename = element("button", { className: "small", type: "button", textContent: "Rename" });
  rename.onclick = async () => {
    const name = prompt("New name", s.name);
    if (name) { await api(`/api/sessions/${s.id}`, { method: "PATCH", body: JSON.stringify({ name }) }); refreshSessions(); }
  };
  const remove = element("button", { className: "small", type: "button", textContent: "Delete" });
  remove.onclick = async () => {
    if (!confirm(`Delete "${s.name}" and all its files?`)) return;
    await api(`/api/sessions/${s.id}`, { method: "DELETE" });
    if (view.session?.id === s.id) closeWorkspace();
    refreshSessions();
  };
  return element("li", { dataset: { id: s.id } }, open, rename, remove);
}

// ---- the open session ------------------------------------------------------------------------------
function resetView(session) {
  stopLive();
  view.generation += 1;
  Object.assign(view, { session, points: [], changes: [], notes: session?.notes || [], review: false,
    hasVideo: false, playhead: 0, zoom: null });
  const video = $("video");
  video.pause();
  video.srcObject = null;
  video.removeAttribute("src");
  video.controls = false;
  video.ontimeupdate = null;
  video.load();  // drops the previous session's frames from the element
  $("video-box").hidden = false;
  const overlay = $("overlay");
  overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
  delete overlay.dataset.label;
  $("current-label").textContent = "";
  $("session-timer").textContent = clock(0);
  $("bars").replaceChildren(); $("intensity-bars").replaceChildren();
  $("client-panel").hidden = true;
  $("workspace").hidden = !session;
  if (!session) return;
  $("workspace-title").textContent = session.client ? `${session.name} (${session.client})` : session.name;
  for (const [id, what] of [["download-csv", "timeline.csv"], ["download-json", "summary.json"],
    ["download-html", "report.html"], ["download-pdf", "report.pdf"]]) {
    $(id).href = withToken(`/api/sessions/${session.id}/${what}`);
    $(id).download = `rtfer-${session.id.slice(0, 8)}-${what}`;
  }
  setLiveControls(false);
  renderNotes(); renderChanges(); drawChart();
}

function setLiveControls(on) {
  $("pause").hidden = $("stop").hidden = !on;
  $("pause").textContent = "Pause";
}

function closeWorkspace() { resetView(null); }

async function openSession(id) {
  resetView(null);
  const generation = view.generation;
  const session = await api(`/api/sessions/${id}`);
  if (generation !== view.generation) return;  // another session was opened meanwhile
  resetView(session);
  await loadReview(session);
}

// the stored results of a session, with its video if it has one: the playhead then seeks
async function loadReview(session) {
  const generation = view.generation;
  const analysed = session.kind === "live" || session.status === "done";
  if (!analysed) { $("current-label").textContent = `analysis ${session.status}`; return; }
  const [csv, summary] = await Promise.all([
    fetch(withToken(`/api/sessions/${session.id}/timeline.csv`)).then((r) => (r.ok ? r.text() : "")),
    api(`/api/sessions/${session.id}/summary.json`).catch(() => ({ change_points: [] })),
  ]);
  if (generation !== view.generation) return;
  const started = performance.now();
  view.points = parseTimeline(csv);
  view.changes = summary.change_points || [];
  view.review = true;
  const last = view.points.length ? view.points[view.points.length - 1].t : 0;
  $("session-timer").textContent = clock(last);
  const video = $("video");
  if (session.kind === "upload") {
    view.hasVideo = true;
    video.src = withToken(`/api/sessions/${session.id}/video`);
    video.controls = true;
    video.onerror = () => { if (generation === view.generation) { view.hasVideo = false; $("video-box").hidden = true; } };
    video.ontimeupdate = () => seekTo(video.currentTime, false);
  } else {
    $("video-box").hidden = true;  // live frames are never stored: there is nothing to play back
  }
  renderChanges(); renderNotes();
  seekTo(0, false);
  $("chart").dataset.renderMs = String(Math.round(performance.now() - started));
}

function parseTimeline(csv) {
  const lines = csv.split(/\r?\n/).filter((line) => line.length);  // CRLF or LF
  if (!lines.length) return [];
  const columns = lines[0].split(",");
  const index = Object.fromEntries(columns.map((c, i) => [c, i]));
  const prefixed = (prefix) => columns.map((c, i) => [c.slice(prefix.length), i]).filter((_, i) => columns[i].startsWith(prefix));
  // the bars show the smoothed probabilities the label comes from (raw ones in files made before them)
  const probColumns = prefixed(columns.some((c) => c.startsWith("s_")) ? "s_" : "p_");
  const intensityColumns = prefixed("i_");
  const number = (cells, key) => {
    const cell = cells[index[key]];
    return cell === undefined || cell === "" ? null : Number(cell);
  };
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    const face = cells[index.face_found] === "1";
    return {
      t: Number(cells[index.time_s]), v: number(cells, "valence_smooth"), lo: number(cells, "valence_low"),
      hi: number(cells, "valence_high"), vc: number(cells, "valence_corrected_smooth"),
      label: cells[index.label] || null, face,
      probs: Object.fromEntries(probColumns.map(([name, i]) => [name, Number(cells[i] || 0)])),
      intensity: Object.fromEntries(intensityColumns.map(([name, i]) => [name, Number(cells[i] || 0)])),
      box: face ? ["x", "y", "w", "h"].map((k) => Number(cells[index[k]])) : null,
    };
  });
}

// the playhead moves to `time`: bars, label, overlay and chart show that moment
function seekTo(time, moveVideo = true) {
  const end = view.points.length ? view.points[view.points.length - 1].t : 0;
  view.playhead = Math.min(Math.max(0, time), Math.max(end, $("video").duration || 0));
  if (moveVideo && view.hasVideo) $("video").currentTime = view.playhead;
  let nearest = null;
  let lo = 0, hi = view.points.length - 1;  // binary search: the last point at or before the playhead
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (view.points[mid].t <= view.playhead) { nearest = view.points[mid]; lo = mid + 1; } else hi = mid - 1;
  }
  if (nearest) {
    showReading(nearest.face ? nearest.label : null, nearest.probs, nearest.intensity);
    const video = $("video");
    drawOverlay({ frame_size: [video.videoWidth || 640, video.videoHeight || 480],
      faces: nearest.box ? [{ box: nearest.box, label: nearest.label, track_id: 1 }] : [], subject: 1 },
    nearest.label);
  }
  $("playhead-time").textContent = clock(view.playhead);
  drawChart();
}

// the label under the video and the bars always come from the same reading: the label is the shown
// (smoothed, with hysteresis) emotion and carries its own bar's percentage
function showReading(label, probs, intensity) {
  if (!label) { $("current-label").textContent = "no face"; return; }
  renderBars(probs);
  if (meta.intensity && intensity) renderBars(intensity, "intensity-bars");
  $("current-label").textContent = `${label} ${Math.round((probs[label] ?? 0) * 100)}%`;
}

// ---- live session ---------------------------------------------------------------------------------
async function startLive() {
  if (!$("consent").checked) {
    $("consent-reminder").hidden = false;
    $("consent").focus();
    return;
  }
  const name = $("session-name").value.trim() || "Live session";
  const client = $("client-code").value.trim();
  const session = await api("/api/sessions", { method: "POST", body: JSON.stringify({ name, client }) });
  resetView({ ...session, notes: [] });
  const generation = view.generation;
  refreshSessions();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (error) {
    $("current-label").textContent = `camera unavailable: ${error.name}`;
    return;
  }
  if (generation !== view.generation) { stream.getTracks().forEach((t) => t.stop()); return; }
  const video = $("video");
  video.srcObject = stream;
  await video.play();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(withToken(`${scheme}://${location.host}/api/sessions/${session.id}/live`));
  socket.binaryType = "arraybuffer";
  view.live = { socket, stream, capture: document.createElement("canvas"), inFlight: false, paused: false,
    timer: null, startedAt: performance.now(), pausedFor: 0, pausedAt: null };
  setLiveControls(true);
  socket.onopen = () => sendFrame();
  socket.onmessage = (event) => {
    if (!view.live || view.live.socket !== socket) return;
    const message = JSON.parse(event.data);
    if (message.type === "result") onResult(message);
    view.live.inFlight = false;
    setTimeout(sendFrame, 0);  // backpressure: the next frame goes out only when this one is answered
  };
  socket.onclose = () => {
    if (view.live?.socket !== socket) return;
    // the server ended it (stopped elsewhere, deleted, dropped): what was stored is reviewed
    stopLive();
    setLiveControls(false);
    loadReview(view.session);
    refreshSessions();
  };
  view.live.timer = setInterval(updateTimer, 250);
}

function sessionTime() {
  const live = view.live;
  if (!live) return view.playhead;
  const paused = live.pausedFor + (live.pausedAt ? performance.now() - live.pausedAt : 0);
  return (performance.now() - live.startedAt - paused) / 1000;
}

function updateTimer() { $("session-timer").textContent = clock(sessionTime()); }

function sendFrame() {
  const live = view.live;
  if (!live || live.paused || live.inFlight || live.socket.readyState !== WebSocket.OPEN) return;
  const video = $("video");
  if (!video.videoWidth) { setTimeout(sendFrame, 50); return; }
  const scale = Math.min(1, 640 / video.videoWidth);
  live.capture.width = Math.round(video.videoWidth * scale);
  live.capture.height = Math.round(video.videoHeight * scale);
  live.capture.getContext("2d").drawImage(video, 0, 0, live.capture.width, live.capture.height);
  live.inFlight = true;
  const time = sessionTime();
  live.capture.toBlob((blob) => {
    const header = new DataView(new ArrayBuffer(8));
    header.setFloat64(0, time, true);
    if (live.socket.readyState === WebSocket.OPEN) live.socket.send(new Blob([header, blob]));
  }, "image/jpeg", 0.8);
}

function onResult(message) {
  const [lo, hi] = message.valence_band || [null, null];
  view.points.push({ t: message.time_s, v: message.valence_smooth, lo, hi, label: message.label,
    face: message.subject !== null });
  if (message.change) view.changes.push(message.change);
  const subject = message.faces.find((f) => f.track_id === message.subject);
  if (subject && message.smooth_probabilities) showReading(message.label, message.smooth_probabilities, subject.intensity);
  else showReading(null);
  drawOverlay(message, message.label);
  updateSubjectChoice(message.faces, message.subject);
  renderChanges(); drawChart();
}

function togglePause() {
  const live = view.live;
  if (!live) return;
  live.paused = !live.paused;
  $("pause").textContent = live.paused ? "Resume" : "Pause";
  $("pause").setAttribute("aria-pressed", String(live.paused));
  if (live.paused) live.pausedAt = performance.now();
  else { live.pausedFor += performance.now() - live.pausedAt; live.pausedAt = null; sendFrame(); }
}

async function stopSession() {
  const session = view.session;
  if (!session || !view.live) return;
  // /stop first, then the socket: a socket that closes while its session is still live was cut off
  await api(`/api/sessions/${session.id}/stop`, { method: "POST" });
  stopLive();
  setLiveControls(false);
  await loadReview(session);
  refreshSessions();
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

// boxes on the video; the subject's box carries the shown label (the one under the video), others their own
function drawOverlay(message, shownLabel) {
  const canvas = $("overlay");
  const [width, height] = message.frame_size;
  canvas.width = width; canvas.height = height;
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, width, height);
  for (const face of message.faces) {
    const isSubject = face.track_id === message.subject;
    const label = isSubject ? shownLabel : face.label;
    const [x, y, w, h] = face.box;
    context.strokeStyle = meta.colors[label] || "#fff";
    context.lineWidth = isSubject ? 4 : 2;
    context.strokeRect(x, y, w, h);
    const text = view.review ? label : `${face.track_id}: ${label}`;
    context.font = "600 18px system-ui";
    const textWidth = context.measureText(text).width;
    const top = Math.max(0, y - 24);
    context.fillStyle = "rgba(0, 0, 0, 0.7)";  // a dark plate: readable on any face or background
    context.fillRect(x, top, textWidth + 10, 22);
    context.fillStyle = "#fff";
    context.fillText(text, x + 5, top + 17);
  }
  const subject = message.faces.find((f) => f.track_id === message.subject);
  if (subject) canvas.dataset.label = shownLabel; else delete canvas.dataset.label;
}

function stopLive() {
  const live = view.live;
  if (!live) return;
  view.live = null;
  clearInterval(live.timer);
  live.socket.close();
  live.stream.getTracks().forEach((track) => track.stop());
}

// ---- bars, notes, changes ---------------------------------------------------------------------------
function renderBars(values, target = "bars") {
  $(target).replaceChildren(...meta.labels.map((name) => {
    const value = values[name] ?? 0;
    const fill = element("div", { className: "fill" });
    fill.style.width = `${(value * 100).toFixed(1)}%`;
    fill.style.background = meta.colors[name];
    return element("div", { className: "bar", dataset: { name, value: String(value) } },
      element("span", { textContent: name }), element("div", { className: "track" }, fill),
      element("span", { textContent: `${(value * 100).toFixed(0)}%` }));
  }));
}

function renderNotes() {
  $("note-list").replaceChildren(...view.notes.map((note) => {
    const time = element("button", { type: "button", className: "link", textContent: clock(note.time_s) });
    time.onclick = () => seekTo(note.time_s);
    const text = element("span", { className: "text", textContent: note.text });
    const edit = element("button", { type: "button", className: "small", textContent: "Edit" });
    edit.onclick = async () => {
      const changed = prompt("Edit the note", note.text);
      if (!changed || changed === note.text) return;
      Object.assign(note, await api(`/api/sessions/${view.session.id}/notes/${note.id}`,
        { method: "PATCH", body: JSON.stringify({ text: changed }) }));
      renderNotes();
    };
    const remove = element("button", { type: "button", className: "small", textContent: "Delete" });
    remove.onclick = async () => {
      if (!confirm("Delete this note?")) return;
      await api(`/api/sessions/${view.session.id}/notes/${note.id}`, { method: "DELETE" });
      view.notes = view.notes.filter((n) => n !== note);
      renderNotes(); drawChart();
    };
    return element("li", { dataset: { id: String(note.id) } }, time, text, edit, remove);
  }));
}

// one list everywhere: the detector's sentence for each change, live and in review alike
function renderChanges() {
  $("change-list").replaceChildren(...view.changes.map((c, i) => {
    const time = element("button", { type: "button", className: "link", textContent: `${i + 1}. ${clock(c.time_s)}` });
    time.onclick = () => seekTo(c.time_s);
    return element("li", {}, time, element("span", { textContent: ` ${c.text}` }));
  }));
}

async function addNote(text) {
  if (!view.session) return;
  // the moment the note is about: the live clock, or the playhead in review
  const time = view.live ? sessionTime() : view.hasVideo ? $("video").currentTime : view.playhead;
  const generation = view.generation;
  const note = await api(`/api/sessions/${view.session.id}/notes`, {
    method: "POST", body: JSON.stringify({ time_s: time, text }),
  });
  if (generation !== view.generation) return;
  view.notes.push(note);
  view.notes.sort((a, b) => a.time_s - b.time_s);
  renderNotes(); drawChart();
}

// ---- the chart ------------------------------------------------------------------------------------
const PAD = { left: 44, right: 8, top: 18, bottom: 22 };

function fullRange() {
  const last = view.points.length ? view.points[view.points.length - 1].t : 0;
  if (!view.review) return [Math.max(0, last - 60), Math.max(60, last)];  // live: the last minute
  return [0, Math.max(last, view.hasVideo ? $("video").duration || 0 : 0, 1)];
}

function chartRange() { return view.review && view.zoom ? view.zoom : fullRange(); }

function niceStep(span, target) {
  const raw = span / target;
  return [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].find((s) => s >= raw) || 7200;
}

function drawChart() {
  const canvas = $("chart");
  const width = canvas.clientWidth || 1000;
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * ratio)) { canvas.width = Math.round(width * ratio); canvas.height = Math.round(240 * ratio); }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  const height = 240;
  const [t0, t1] = chartRange();
  const plotW = width - PAD.left - PAD.right, plotH = height - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => PAD.top + plotH / 2 - v * (plotH / 2 - 4);
  context.clearRect(0, 0, width, height);
  const points = view.points;
  const first = lowerBound(points, t0), last = Math.min(points.length, lowerBound(points, t1) + 1);
  context.save();
  context.beginPath(); context.rect(PAD.left, PAD.top, plotW, plotH); context.clip();
  // one coloured band per run of the same shown emotion
  let start = first;
  for (let i = first + 1; i <= last; i++) {
    if (i < last && points[i].label === points[start].label) continue;
    const run = points[start];
    const end = points[Math.min(i, points.length - 1)].t;
    if (run.label) {
      context.fillStyle = `${meta.colors[run.label]}40`;
      context.fillRect(x(run.t), PAD.top, Math.max(1, x(end) - x(run.t)), plotH);
    }
    start = i;
  }
  context.strokeStyle = "#888"; context.setLineDash([4, 4]); context.lineWidth = 1;
  context.beginPath(); context.moveTo(PAD.left, y(0)); context.lineTo(width - PAD.right, y(0)); context.stroke();
  context.setLineDash([]);
  // with a baseline the corrected line is shown by default (the toggle brings back the raw one and its band)
  const corrected = points.some((p) => p.vc !== null && p.vc !== undefined);
  $("corrected-choice").hidden = !corrected;
  let drawn;
  if (corrected && $("show-corrected").checked) {
    drawLine(context, x, y, first, last, "v", "#bbb");
    drawn = drawLine(context, x, y, first, last, "vc", "#D55E00");
  } else {
    drawBand(context, x, y, first, last);
    drawn = drawLine(context, x, y, first, last, "v", "#111");
  }
  context.strokeStyle = "#CC0000"; context.lineWidth = 1.5;
  view.changes.forEach((c) => {
    if (c.time_s < t0 || c.time_s > t1) return;
    context.beginPath(); context.moveTo(x(c.time_s), PAD.top); context.lineTo(x(c.time_s), PAD.top + plotH); context.stroke();
  });
  context.fillStyle = "#6A3D9A";  // notes: a triangle on the top edge
  for (const note of view.notes) {
    if (note.time_s < t0 || note.time_s > t1) continue;
    const nx = x(note.time_s);
    context.beginPath(); context.moveTo(nx - 6, PAD.top); context.lineTo(nx + 6, PAD.top); context.lineTo(nx, PAD.top + 10);
    context.closePath(); context.fill();
  }
  if (view.review) {
    context.strokeStyle = "#0072B2"; context.lineWidth = 2;
    context.beginPath(); context.moveTo(x(view.playhead), PAD.top); context.lineTo(x(view.playhead), PAD.top + plotH); context.stroke();
  }
  context.restore();
  // axes: valence on the left, time in m:ss below
  context.fillStyle = "#444"; context.font = "11px system-ui"; context.textAlign = "right";
  context.fillText("+1", PAD.left - 6, y(1) + 4); context.fillText("0", PAD.left - 6, y(0) + 4); context.fillText("−1", PAD.left - 6, y(-1) + 4);
  context.textAlign = "center";
  const step = niceStep(t1 - t0, Math.max(2, Math.floor(plotW / 80)));
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    context.fillText(clock(t), x(t), height - 6);
    context.fillRect(x(t), PAD.top + plotH, 1, 4);
  }
  context.textAlign = "left";
  canvas.dataset.points = String(points.length);
  canvas.dataset.drawn = String(drawn);
  canvas.dataset.range = `${t0},${t1}`;
  canvas.dataset.geometry = JSON.stringify({ left: PAD.left, top: PAD.top, plotW, plotH, t0, t1 });
  renderLegend(points, first, last);
}

function lowerBound(points, t) {
  let lo = 0, hi = points.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (points[mid].t < t) lo = mid + 1; else hi = mid; }
  return lo;
}

// a line through the points with a value; a gap (no face) breaks it. More points than pixels: per pixel
// column its first, lowest, highest and last value, which looks the same and keeps 60 minutes smooth
function drawLine(context, x, y, first, last, key, color) {
  context.strokeStyle = color; context.lineWidth = 2; context.beginPath();
  let drawing = false, count = 0, column = null, lowest = 0, highest = 0;
  for (let i = first; i < last; i++) {
    const p = view.points[i];
    const value = p[key];
    if (value === null || value === undefined || Number.isNaN(value)) { drawing = false; column = null; continue; }
    const px = Math.round(x(p.t)), py = y(value);
    count += 1;
    if (drawing && px === column) {
      if (py < lowest) { lowest = py; context.lineTo(px, py); } else if (py > highest) { highest = py; context.lineTo(px, py); }
      continue;
    }
    if (drawing) context.lineTo(px, py); else context.moveTo(px, py);
    drawing = true; column = px; lowest = highest = py;
  }
  context.stroke();
  return count;
}

function drawBand(context, x, y, first, last) {
  context.fillStyle = "rgba(0, 114, 178, 0.18)";
  let run = [];
  const fill = () => {
    if (run.length > 1) {
      context.beginPath();
      run.forEach((p, i) => (i ? context.lineTo(x(p.t), y(p.hi)) : context.moveTo(x(p.t), y(p.hi))));
      for (let i = run.length - 1; i >= 0; i--) context.lineTo(x(run[i].t), y(run[i].lo));
      context.closePath(); context.fill();
    }
    run = [];
  };
  const stride = Math.max(1, Math.floor((last - first) / 4000));  // the band needs no more than a few per pixel
  for (let i = first; i < last; i += stride) {
    const p = view.points[i];
    if (p.lo === null || p.lo === undefined) fill(); else run.push(p);
  }
  fill();
}

function renderLegend(points, first, last) {
  const shown = new Set();
  for (let i = first; i < last; i++) if (points[i].label) shown.add(points[i].label);
  const key = [...shown].join();
  const legend = $("chart-legend");
  if (legend.dataset.key === key && legend.childElementCount) return;
  legend.dataset.key = key;
  const swatch = (color, text, className = "swatch") => element("li", {},
    element("span", { className, style: `background:${color}` }), ` ${text}`);
  legend.replaceChildren(
    swatch("#111", "valence (smoothed)", "swatch line"), swatch("rgba(0,114,178,0.35)", "spread of the readings"),
    swatch("#CC0000", "change", "swatch line"), swatch("#6A3D9A", "note", "swatch line"),
    ...meta.labels.filter((name) => shown.has(name)).map((name) => swatch(`${meta.colors[name]}66`, name)));
}

function zoomAt(factor, center) {
  const [f0, f1] = fullRange();
  const [t0, t1] = chartRange();
  const span = Math.min(f1 - f0, Math.max(5, (t1 - t0) * factor));
  let start = center - (center - t0) * (span / (t1 - t0));
  start = Math.min(Math.max(f0, start), f1 - span);
  view.zoom = span >= f1 - f0 ? null : [start, start + span];
  drawChart();
}

function panBy(seconds) {
  if (!view.zoom) return;
  const [f0, f1] = fullRange();
  const span = view.zoom[1] - view.zoom[0];
  const start = Math.min(Math.max(f0, view.zoom[0] + seconds), f1 - span);
  view.zoom = [start, start + span];
  drawChart();
}

function timeAtX(clientX) {
  const rect = $("chart").getBoundingClientRect();
  const [t0, t1] = chartRange();
  const plotW = rect.width - PAD.left - PAD.right;
  return t0 + ((clientX - rect.left - PAD.left) / plotW) * (t1 - t0);
}

// ---- clients --------------------------------------------------------------------------------------
async function openClient(client) {
  resetView(null);
  const generation = view.generation;
  const trend = await api(`/api/clients/trend?client=${encodeURIComponent(client)}`);
  if (generation !== view.generation) return;
  $("client-panel").hidden = false;
  $("client-title").textContent = `Client ${client}`;
  $("client-export").href = withToken(`/api/clients/export.zip?client=${encodeURIComponent(client)}`);
  $("client-erase").onclick = async () => {
    if (!confirm(`Erase everything of ${client}: every session, its results, notes, reports and videos?`)) return;
    await api(`/api/clients?client=${encodeURIComponent(client)}`, { method: "DELETE" });
    $("client-panel").hidden = true;
    refreshSessions();
  };
  $("client-sessions").replaceChildren(...trend.sessions.map((s) => {
    const shares = element("div", { className: "shares" }, ...["positive", "neutral", "negative"].map((group) => {
      const part = element("span", { className: `share ${group}`, title: `${group} ${Math.round(s.groups[group] * 100)}%` });
      part.style.width = `${(s.groups[group] * 100).toFixed(1)}%`;
      return part;
    }));
    const open = element("button", { type: "button", className: "link", textContent: s.name });
    open.onclick = () => openSession(s.id);
    return element("tr", {},
      element("td", { textContent: new Date(s.created * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) }),
      element("td", {}, open),
      element("td", { textContent: s.duration_s ? clock(s.duration_s) : "–" }),
      element("td", { textContent: s.mean_valence === null ? "–" : s.mean_valence.toFixed(2) }),
      element("td", {}, shares));
  }));
  drawTrend(trend.sessions);
}

// mean valence per session, oldest first, one dot per session on its date
function drawTrend(sessions) {
  const canvas = $("client-trend");
  const width = canvas.clientWidth || 600, height = 160, ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  const rows = sessions.filter((s) => s.mean_valence !== null).sort((a, b) => a.created - b.created);
  const x = (i) => PAD.left + 8 + (rows.length > 1 ? (i / (rows.length - 1)) : 0.5) * (width - PAD.left - PAD.right - 16);
  const y = (v) => 14 + (1 - v) / 2 * (height - 40);
  context.fillStyle = "#444"; context.font = "11px system-ui"; context.textAlign = "right";
  [1, 0, -1].forEach((v) => context.fillText(String(v), PAD.left - 6, y(v) + 4));
  context.strokeStyle = "#bbb"; context.setLineDash([4, 4]);
  context.beginPath(); context.moveTo(PAD.left, y(0)); context.lineTo(width - PAD.right, y(0)); context.stroke();
  context.setLineDash([]); context.strokeStyle = "#0072B2"; context.lineWidth = 2; context.beginPath();
  rows.forEach((s, i) => (i ? context.lineTo(x(i), y(s.mean_valence)) : context.moveTo(x(i), y(s.mean_valence))));
  context.stroke();
  context.textAlign = "center";
  rows.forEach((s, i) => {
    context.fillStyle = "#0072B2"; context.beginPath(); context.arc(x(i), y(s.mean_valence), 4, 0, 2 * Math.PI); context.fill();
    // the first and last dates stay inside the canvas
    context.textAlign = rows.length > 1 && i === 0 ? "left" : rows.length > 1 && i === rows.length - 1 ? "right" : "center";
    context.fillStyle = "#444"; context.fillText(new Date(s.created * 1000).toLocaleDateString(), x(i), height - 6);
  });
  canvas.dataset.sessions = String(rows.length);
}

// ---- events ---------------------------------------------------------------------------------------
$("start-live").onclick = () => startLive().catch((e) => { $("current-label").textContent = e.message; });
$("consent").onchange = () => { if ($("consent").checked) $("consent-reminder").hidden = true; };
$("pause").onclick = togglePause;
$("stop").onclick = () => stopSession().catch((e) => { $("current-label").textContent = e.message; });
$("show-corrected").onchange = () => drawChart();
$("subject-select").onchange = (event) => {
  event.target.dataset.chosen = event.target.value;
  const trackId = event.target.value === "" ? null : Number(event.target.value);
  view.live?.socket.send(JSON.stringify({ type: "select", track_id: trackId }));
};
$("note-form").onsubmit = async (event) => {
  event.preventDefault();
  const text = $("note-text").value.trim();
  if (!text) return;
  $("note-text").value = "";
  await addNote(text);
};
const chart = $("chart");
let drag = null;
chart.onpointerdown = (event) => { drag = { x: event.clientX, moved: false }; };
chart.onpointermove = (event) => {
  if (!drag || !view.zoom) return;
  const dx = event.clientX - drag.x;
  if (Math.abs(dx) < 3 && !drag.moved) return;
  drag.moved = true; drag.x = event.clientX;
  const [t0, t1] = chartRange();
  panBy(-dx / (chart.clientWidth - PAD.left - PAD.right) * (t1 - t0));
};
chart.onpointerup = (event) => {
  const wasDrag = drag?.moved;
  drag = null;
  if (!wasDrag && view.review) seekTo(timeAtX(event.clientX));
};
chart.addEventListener("wheel", (event) => {
  if (!view.review) return;
  event.preventDefault();
  zoomAt(event.deltaY > 0 ? 1.25 : 0.8, timeAtX(event.clientX));
}, { passive: false });
chart.onkeydown = (event) => {
  if (!view.review) return;
  const [t0, t1] = chartRange();
  const actions = {
    ArrowLeft: () => seekTo(view.playhead - (event.shiftKey ? 30 : 5)),
    ArrowRight: () => seekTo(view.playhead + (event.shiftKey ? 30 : 5)),
    Home: () => seekTo(0), End: () => seekTo(fullRange()[1]),
    "+": () => zoomAt(0.5, view.playhead), "=": () => zoomAt(0.5, view.playhead), "-": () => zoomAt(2, view.playhead),
    0: () => { view.zoom = null; drawChart(); },
    "[": () => panBy(-(t1 - t0) / 4), "]": () => panBy((t1 - t0) / 4),
  };
  if (!actions[event.key]) return;
  event.preventDefault(); event.stopPropagation();
  actions[event.key]();
};
$("zoom-in").onclick = () => zoomAt(0.5, view.playhead);
$("zoom-out").onclick = () => zoomAt(2, view.playhead);
$("zoom-all").onclick = () => { view.zoom = null; drawChart(); };

// keyboard shortcuts (not while typing): listed in the ? overlay
document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
  if (event.key === "Escape") { $("help").hidden = true; return; }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "?") { $("help").hidden = !$("help").hidden; event.preventDefault(); return; }
  if (!view.session) return;
  if (event.key === " " && document.activeElement?.tagName !== "BUTTON") {
    event.preventDefault();
    if (view.live) togglePause();
    else if (view.hasVideo) { const video = $("video"); if (video.paused) video.play(); else video.pause(); }
  } else if (event.key === "n") {
    event.preventDefault(); $("note-text").focus();
  } else if (event.key === "m") {
    event.preventDefault(); addNote("event marked");
  }
});
$("help-close").onclick = () => { $("help").hidden = true; };
$("help-open").onclick = () => { $("help").hidden = false; };
window.addEventListener("resize", () => { if (view.session) drawChart(); });

$("upload-input").onchange = (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  const query = new URLSearchParams({ client: $("client-code").value.trim(), keep_video: String($("keep-video").checked) });
  if ($("upload-baseline").checked) query.set("baseline_s", "20");
  const request = new XMLHttpRequest();
  request.open("POST", withToken(`/api/uploads?${query}`));
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
Object.assign(meta, { labels: health.labels, colors: health.colors, intensity: health.intensity });
$("intensity-panel").hidden = !health.intensity;
refreshSessions();
