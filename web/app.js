// The live translation page: streams the text box over /v1/stream and shows the transcript.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const sessionStart = performance.now();
const now = () => (performance.now() - sessionStart) / 1000;

const RESEND_LOG = 2000;  // frames kept for sending again after a resume

const state = {
  ws: null,
  connected: false,
  backoff: 0.5,
  epoch: 0,            // increases with every new stream; a resumed stream keeps its segment numbers
  token: null,         // the stream's resume token (ready.resume)
  lastFinal: -1,       // the last segment whose final arrived (?ack= when resuming)
  sent: 0,             // frames sent on this stream (the server counts them as ready.received)
  log: [],             // [seq, frame]: sent again after a resume if the server had not read them
  queue: [],           // frames made while disconnected, sent after a resume
  resumes: 0,
  inUse: 0,            // resumes answered in_use in a row (the server has not seen the old connection end)
  doc: "",             // the text box content since the last Enter (what the server has been sent)
  finalized: 0,        // how much of doc the server has finalized
  pending: [],         // committed text whose finals have not arrived yet (resent after a reconnect)
  entries: new Map(),  // `${epoch}:${segment}` -> transcript entry
  cues: [],            // finals with times, for WebVTT/SRT
};

function setStatus(text, cls) {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + (cls || "");
}

async function loadLanguages() {
  const languages = await (await fetch("/languages")).json();
  const source = $("source"), target = $("target");
  for (const lang of languages) {
    if (lang.targets.length) source.add(new Option(lang.name, lang.code));
  }
  const fillTargets = () => {
    const lang = languages.find((l) => l.code === source.value);
    const keep = target.value;
    target.innerHTML = "";
    for (const code of lang ? lang.targets : []) {
      const info = languages.find((l) => l.code === code);
      target.add(new Option(info ? info.name : code, code));
    }
    if ([...target.options].some((o) => o.value === keep)) target.value = keep;
  };
  source.value = params.get("source") || (languages.some((l) => l.code === "en") ? "en" : source.value);
  fillTargets();
  if (params.get("target")) target.value = params.get("target");
  source.addEventListener("change", () => { fillTargets(); restart(); });
  target.addEventListener("change", restart);
}

function send(message) {
  const frame = JSON.stringify(message);
  if (state.connected && state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(frame);
    state.sent += 1;
    state.log.push([state.sent, frame]);
    if (state.log.length > RESEND_LOG) state.log.shift();
    return true;
  }
  if (state.token) state.queue.push(frame);  // for the resume (a new stream sends the open text again)
  return false;
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ source: $("source").value, target: $("target").value });
  if (params.get("session")) query.set("session", params.get("session"));
  if (params.get("api_key")) query.set("api_key", params.get("api_key"));
  const page = new URLSearchParams(query);
  // Someone typing stops to think mid-sentence: no pause ends a segment here (the server's default is
  // for speech without punctuation) unless the page's own URL asks for one (?pause_ms=1500).
  query.set("pause_ms", params.get("pause_ms") || "0");
  if (state.token) { query.set("resume", state.token); query.set("ack", String(state.lastFinal)); }
  const url = `${proto}//${location.host}/v1/stream?${query}`;
  $("overlay-link").href = params.get("session")
    ? `/overlay?session=${encodeURIComponent(params.get("session"))}&${page}` : `/overlay?${page}`;
  const ws = new WebSocket(url);
  state.ws = ws;
  setStatus("connecting…");
  ws.onmessage = (event) => { if (state.ws === ws) onMessage(JSON.parse(event.data)); };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    state.connected = false;
    const wait = state.backoff;
    state.backoff = Math.min(state.backoff * 2, 10);
    setStatus(`disconnected — reconnecting in ${wait.toFixed(1)} s`, "closed");
    setTimeout(() => { if (state.ws === ws) connect(); }, wait * 1000);
  };
}

function restart() {
  const old = state.ws;
  state.ws = null;
  state.connected = false;
  if (old) old.close(1000);  // done with that stream: the server forgets it
  state.token = null;
  connect();
}

function resumed(msg) {
  // The same stream: what the server had not read is sent again, then what was typed meanwhile.
  for (const [seq, frame] of state.log) if (seq > msg.received) state.ws.send(frame);
  const queued = state.queue;
  state.queue = [];
  for (const frame of queued) send(JSON.parse(frame));
  state.resumes += 1;
}

function onMessage(msg) {
  if (msg.type === "ready") {
    state.connected = true;
    state.backoff = 0.5;
    state.inUse = 0;
    const token = state.token;
    state.token = msg.resume || null;
    setStatus(`connected · ${msg.model}`, "open");
    if (msg.resumed && msg.resume === token) { resumed(msg); return; }
    state.epoch += 1;
    state.lastFinal = -1;
    state.sent = 0;
    state.log = [];
    state.queue = [];
    // Open entries of the previous connection will be finished by this one under new segment numbers.
    for (const [key, entry] of state.entries) {
      if (!entry.li.classList.contains("final")) { entry.li.remove(); state.entries.delete(key); }
    }
    // Resume: whatever has not been finalized yet is sent again, so nothing typed is lost and no
    // final is repeated.
    for (const text of state.pending) { send({ type: "append", text }); send({ type: "commit" }); }
    const open = state.doc.slice(state.finalized);
    if (open) send({ type: "append", text: open });
    return;
  }
  if (msg.type === "error" && msg.code === "resume_failed" && msg.reason === "in_use" && state.inUse < 8) {
    // Not this new stream: the old one, once the server has seen its connection end.
    state.inUse += 1;
    const ws = state.ws;
    state.ws = null;
    ws.close(1000);
    setTimeout(() => { if (state.ws === null) connect(); }, 250 * state.inUse);
    return;
  }
  if (msg.type === "error") { setStatus(`error: ${msg.message}`, "closed"); return; }
  if (msg.type !== "partial" && msg.type !== "final") return;
  if (msg.segment <= state.lastFinal) return;  // finished already (a resumed stream never repeats one)
  const entry = entryFor(msg.segment);
  entry.source.textContent = msg.source;
  if (msg.type === "partial") {
    entry.stable.textContent = msg.stable;
    entry.unstable.textContent = msg.unstable;
    return;
  }
  entry.stable.textContent = msg.text;
  entry.unstable.textContent = "";
  entry.li.classList.remove("open");
  entry.li.classList.add("final");
  entry.latency.textContent = `${Math.round(msg.latency_ms)} ms${msg.cached ? " · cached" : ""}`;
  const end = now();
  state.cues.push({ start: entry.start, end: Math.max(end, entry.start + 1) + 1.5, text: msg.text });
  consumeFinal(msg.source);
  state.lastFinal = msg.segment;
  if (state.token) send({ type: "ack", segment: msg.segment });  // the server may forget it
}

function consumeFinal(source) {
  if (state.pending.length) {
    const i = state.pending[0].indexOf(source);
    if (i >= 0) {
      const rest = state.pending[0].slice(i + source.length);
      if (rest.trim()) state.pending[0] = rest; else state.pending.shift();
      return;
    }
  }
  const i = state.doc.indexOf(source, state.finalized);
  if (i >= 0) state.finalized = i + source.length;
}

function entryFor(segment) {
  const key = `${state.epoch}:${segment}`;
  let entry = state.entries.get(key);
  if (entry) return entry;
  const li = document.createElement("li");
  li.className = "open";
  li.innerHTML = '<span class="latency"></span><span class="source"></span>' +
    '<span class="translation"><span class="stable"></span><span class="unstable"></span></span>';
  entry = {
    li, start: now(),
    latency: li.querySelector(".latency"), source: li.querySelector(".source"),
    stable: li.querySelector(".stable"), unstable: li.querySelector(".unstable"),
  };
  state.entries.set(key, entry);
  $("transcript").appendChild(li);
  li.scrollIntoView({ block: "nearest" });
  return entry;
}

function onInput() {
  const value = $("text").value;
  if (value.startsWith(state.doc)) {
    const delta = value.slice(state.doc.length);
    state.doc = value;
    if (delta) send({ type: "append", text: delta });
    return;
  }
  // An edit inside the text: the open (not yet final) part is replaced; finished sentences stay.
  state.finalized = Math.min(state.finalized, value.length);
  state.doc = value;
  send({ type: "replace", text: value.slice(state.finalized) });
}

function commit() {
  const open = state.doc.slice(state.finalized);
  if (open.trim()) state.pending.push(open);
  send({ type: "commit" });
  state.doc = "";
  state.finalized = 0;
  $("text").value = "";
}

function download(name, text, type) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function setupMicrophone() {
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (!Recognition) return;  // feature-detected: the button stays hidden
  const button = $("mic");
  button.hidden = false;
  let recognition = null;
  button.addEventListener("click", () => {
    if (recognition) { recognition.stop(); recognition = null; button.textContent = "🎤 Microphone"; return; }
    recognition = new Recognition();
    recognition.lang = $("source").value;
    recognition.interimResults = true;
    recognition.continuous = true;
    recognition.onresult = (event) => {
      for (let i = event.resultIndex; i < event.results.length; i++) {
        const text = event.results[i][0].transcript;
        send({ type: "replace", text });
        if (event.results[i].isFinal) send({ type: "commit" });
      }
    };
    recognition.onend = () => { if (recognition) recognition.start(); };
    recognition.start();
    button.textContent = "■ Stop microphone";
  });
}

$("text").addEventListener("input", onInput);
$("text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); commit(); }
});
$("commit").addEventListener("click", commit);
$("vtt").addEventListener("click", () => download("captions.vtt", Captions.vtt(state.cues), "text/vtt"));
$("srt").addEventListener("click", () => download("captions.srt", Captions.srt(state.cues), "application/x-subrip"));
setupMicrophone();
loadLanguages().then(connect).catch((e) => setStatus(`cannot load languages: ${e}`, "closed"));
window.translatorPage = state;  // for tests and debugging
