// DeepRacer console page. Everything goes through the JSON API of deepracer_control.console.app.
// Safety: drive commands are REPEATED every REPEAT_MS while a key or the stick is held and stop as
// soon as nothing is held (one explicit stop is sent); the server never repeats on its own, so the
// control node's watchdog stops the car when this page, the network or the browser goes away.
"use strict";
const REPEAT_MS = 100;
const STATUS_MS = 500;
const $ = (id) => document.getElementById(id);

function say(text, ok) {
  const m = $("message");
  m.textContent = text;
  m.className = ok ? "ok" : "";
}

async function api(method, path, body) {
  const opts = { method, headers: { "X-Console": "1" }, credentials: "same-origin" };
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = {};
  try { data = await r.json(); } catch (e) { data = { error: `HTTP ${r.status}` }; }
  if (!r.ok) { throw new Error(data.error || `HTTP ${r.status}`); }
  return data;
}

async function act(method, path, body) {
  try {
    const data = await api(method, path, body);
    if (data.message) say(data.message, true);
    return data;
  } catch (e) {
    say(e.message, false);
    return null;
  }
}

// ---- manual drive: keyboard + joystick, repeated while held ----------------------------------
const keys = new Set();
const KEYMAP = { ArrowUp: "f", KeyW: "f", ArrowDown: "b", KeyS: "b", ArrowLeft: "l", KeyA: "l", ArrowRight: "r", KeyD: "r" };
let stick = null;  // {throttle, steering} while the stick is held
let driving = false;

function command() {
  if (stick) return stick;
  if (keys.size === 0) return null;
  const t = parseFloat($("key-throttle").value);
  let throttle = 0, steering = 0;
  if (keys.has("f")) throttle += t;
  if (keys.has("b")) throttle -= t;
  if (keys.has("l")) steering += 1;
  if (keys.has("r")) steering -= 1;
  return { throttle, steering };
}

function driveTick() {
  const c = command();
  if (c) {
    driving = true;
    api("POST", "/api/drive", c).catch((e) => say(e.message, false));
  } else if (driving) {
    driving = false;
    api("POST", "/api/stop").catch((e) => say(e.message, false));
  }
}
setInterval(driveTick, REPEAT_MS);

function releaseAll() { keys.clear(); stick = null; driveTick(); drawStick(0, 0); }

function editing(e) { return e.target && (e.target.tagName === "INPUT" && e.target.type !== "range" || e.target.tagName === "SELECT"); }
document.addEventListener("keydown", (e) => {
  if (e.code === "Escape") { act("POST", "/api/estop", { engaged: true }); releaseAll(); return; }
  const k = KEYMAP[e.code];
  if (!k || editing(e) || (e.target && e.target.type === "range")) return;
  e.preventDefault();
  if (!keys.has(k)) { keys.add(k); driveTick(); }
});
document.addEventListener("keyup", (e) => {
  const k = KEYMAP[e.code];
  if (k && keys.delete(k)) driveTick();
});
window.addEventListener("blur", releaseAll);
document.addEventListener("visibilitychange", () => { if (document.hidden) releaseAll(); });

const canvas = $("joystick");
const ctx = canvas.getContext("2d");
function drawStick(x, y) {
  const r = canvas.width / 2;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#556"; ctx.beginPath(); ctx.arc(r, r, r - 2, 0, 2 * Math.PI); ctx.stroke();
  ctx.fillStyle = stick ? "#2e6fd8" : "#778";
  ctx.beginPath(); ctx.arc(r + x * (r - 25), r + y * (r - 25), 22, 0, 2 * Math.PI); ctx.fill();
}
function stickFrom(e) {
  const box = canvas.getBoundingClientRect();
  const r = box.width / 2;
  let x = (e.clientX - box.left - r) / (r - 25), y = (e.clientY - box.top - r) / (r - 25);
  const n = Math.hypot(x, y);
  if (n > 1) { x /= n; y /= n; }
  stick = { throttle: -y, steering: -x };  // up = forward, left = positive steering
  drawStick(x, y);
}
canvas.addEventListener("pointerdown", (e) => { canvas.setPointerCapture(e.pointerId); stickFrom(e); driveTick(); });
canvas.addEventListener("pointermove", (e) => { if (stick) stickFrom(e); });
for (const ev of ["pointerup", "pointercancel", "lostpointercapture"]) canvas.addEventListener(ev, releaseAll);
drawStick(0, 0);

// ---- modes, emergency stop, max speed --------------------------------------------------------
for (const b of document.querySelectorAll("#modes button")) {
  b.addEventListener("click", () => act("POST", "/api/mode", { mode: b.dataset.mode }));
}
$("estop").addEventListener("click", () => { releaseAll(); act("POST", "/api/estop", { engaged: true }); });
$("estop-release").addEventListener("click", () => act("POST", "/api/estop", { engaged: false }));
$("key-throttle").addEventListener("input", () => { $("key-throttle-value").textContent = parseFloat($("key-throttle").value).toFixed(2); });
$("max-speed").addEventListener("input", () => { $("max-speed-value").textContent = parseFloat($("max-speed").value).toFixed(2); });
$("max-speed").addEventListener("change", () => act("POST", "/api/max_speed", { scale: parseFloat($("max-speed").value) }));

// ---- models ----------------------------------------------------------------------------------
async function loadModels() {
  let data;
  try { data = await api("GET", "/api/models"); } catch (e) { $("models").textContent = e.message; return; }
  const ul = $("models");
  ul.replaceChildren();
  for (const m of data.models) {
    const li = document.createElement("li");
    li.dataset.name = m.name;
    if (m.loaded) li.className = "loaded";
    const name = document.createElement("span"); name.className = "name"; name.textContent = m.name;
    const sel = document.createElement("button"); sel.textContent = "Select"; sel.className = "select";
    sel.addEventListener("click", async () => { say(`loading ${m.name}...`, true);
      await act("POST", `/api/models/${encodeURIComponent(m.name)}/select`); loadModels(); });
    const del = document.createElement("button"); del.textContent = "Delete"; del.className = "secondary delete";
    del.addEventListener("click", async () => { if (confirm(`Delete ${m.name}?`)) { await act("DELETE", `/api/models/${encodeURIComponent(m.name)}`); loadModels(); } });
    li.append(name, sel, del);
    ul.append(li);
  }
}
$("upload-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = $("upload-file").files[0];
  if (!f) { say("choose a model .tar.gz first", false); return; }
  const form = new FormData(); form.append("file", f);
  say(`uploading ${f.name}...`, true);
  const data = await act("POST", "/api/models", form);
  if (data) say(`uploaded ${data.model.name}`, true);
  loadModels();
});
$("auto-start").addEventListener("click", () => act("POST", "/api/autonomous", { run: true }));
$("auto-stop").addEventListener("click", () => act("POST", "/api/autonomous", { run: false }));

// ---- calibration -----------------------------------------------------------------------------
const CAL_FIELDS = ["min", "mid", "max"];
let livePulse = null;  // {channel: "Servo"|"Motor", ns}
let calMode = false;
let calibration = null;

function calValue(ch, f) { return parseInt($(`${ch.toLowerCase()}-${f}`).value, 10); }
function showCalOutputs() {
  for (const ch of ["Servo", "Motor"]) for (const f of CAL_FIELDS) {
    const el = $(`${ch.toLowerCase()}-${f}`); el.nextElementSibling.textContent = `${(el.value / 1e6).toFixed(3)} ms`;
  }
}
async function loadCalibration() {
  const data = await act("GET", "/api/calibration");
  if (!data) return;
  calibration = data.calibration.Calibration;
  $("cal-file").textContent = data.file || "(no calibration_file configured)";
  if (data.error) say(data.error, false);
  for (const ch of ["Servo", "Motor"]) {
    for (const f of CAL_FIELDS) $(`${ch.toLowerCase()}-${f}`).value = calibration[ch][f];
    $(`${ch.toLowerCase()}-polarity`).value = String(calibration[ch].polarity);
  }
  showCalOutputs();
}
for (const ch of ["Servo", "Motor"]) for (const f of CAL_FIELDS) {
  $(`${ch.toLowerCase()}-${f}`).addEventListener("input", (e) => {
    livePulse = { channel: ch, ns: parseInt(e.target.value, 10) };
    showCalOutputs();
    calTick();
  });
}
function calTick() {
  if (!calMode) return;
  const steering = livePulse && livePulse.channel === "Servo" ? livePulse.ns : calValue("Servo", "mid");
  const throttle = livePulse && livePulse.channel === "Motor" ? livePulse.ns : calValue("Motor", "mid");
  api("POST", "/api/calibration/pulse", { throttle_ns: throttle, steering_ns: steering }).catch((e) => say(e.message, false));
}
setInterval(calTick, REPEAT_MS);
$("cal-save").addEventListener("click", () => {
  const doc = { Calibration: {}, version: 1 };
  for (const ch of ["Servo", "Motor"]) {
    doc.Calibration[ch] = { polarity: parseInt($(`${ch.toLowerCase()}-polarity`).value, 10) };
    for (const f of CAL_FIELDS) doc.Calibration[ch][f] = calValue(ch, f);
  }
  act("POST", "/api/calibration", doc);
});

// ---- status ----------------------------------------------------------------------------------
function fmt(v, digits, unit) { return (v === null || v === undefined) ? "-" : `${Number(v).toFixed(digits)}${unit || ""}`; }
async function pollStatus() {
  let s;
  try { s = await api("GET", "/api/status"); } catch (e) { $("st-mode").textContent = e.message; return; }
  const mode = s.mode;
  $("st-mode").textContent = s.control_alive ? mode : "control node not running";
  for (const b of document.querySelectorAll("#modes button")) b.classList.toggle("active", b.dataset.mode === mode);
  const wasCal = calMode;
  calMode = mode === "calibration";
  if (calMode && !wasCal) livePulse = null;
  const a = s.applied;
  $("st-output").textContent = a ? `${a.reason}${a.emergency_stop ? " (E-STOP)" : ""}: steering ${fmt(a.steering, 2)}, throttle ${fmt(a.throttle, 2)}` : "-";
  $("st-pwm").textContent = a ? `steering ${a.steering_duty_ns} ns, throttle ${a.throttle_duty_ns} ns` : "-";
  if (a) { $("cal-live-steering").textContent = a.steering_duty_ns; $("cal-live-throttle").textContent = a.throttle_duty_ns; }
  $("st-model").textContent = s.model || "none";
  $("st-auto").textContent = s.autonomous_running ? "running" : "stopped";
  if (s.battery) $("st-battery").textContent = `${fmt(s.battery.percentage, 0, " %")} ${fmt(s.battery.voltage_v, 2, " V")}`;
  $("st-cpu").textContent = fmt(s.cpu_temperature_c, 1, " °C");
  const ms = $("max-speed");
  if (typeof s.max_speed_scale === "number" && document.activeElement !== ms) {
    ms.value = s.max_speed_scale; $("max-speed-value").textContent = s.max_speed_scale.toFixed(2);
  }
  const v = s.video;
  $("video-stats").textContent = `${fmt(v.fps, 1)} fps, latency ${fmt(v.latency_ms, 0)} ms, ${v.frames_received} frames`;
}
setInterval(pollStatus, STATUS_MS);
pollStatus();
loadModels();
loadCalibration();
