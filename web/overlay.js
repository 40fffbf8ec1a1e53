// Caption overlay for OBS browser sources or a second screen.
// Query parameters: source, target, session (watch another client's stream), lines (1-2),
// size (px), color, bg (CSS colour; default transparent), align (left|center|right), font, shadow (0|1).
"use strict";
const q = new URLSearchParams(location.search);
const box = document.getElementById("captions");
const lines = Math.max(1, Math.min(3, parseInt(q.get("lines") || "2", 10) || 2));
box.style.fontSize = `${parseInt(q.get("size") || "48", 10) || 48}px`;
box.style.color = q.get("color") || "#ffffff";
box.style.textAlign = q.get("align") || "center";
if (q.get("font")) box.style.fontFamily = q.get("font");
if (q.get("bg")) document.body.style.background = q.get("bg");
if (q.get("shadow") !== "0") box.style.textShadow = "0 0 6px #000, 0 0 2px #000";

const finals = [];
let open = null;  // { segment, stable, unstable }

function render() {
  const rows = finals.slice(-(open ? lines - 1 : lines)).map((text) => ({ stable: text, unstable: "" }));
  if (open && lines > 0) rows.push(open);
  box.replaceChildren(...rows.slice(-lines).map((row) => {
    const div = document.createElement("div");
    const stable = document.createElement("span");
    stable.textContent = row.stable;
    const unstable = document.createElement("span");
    unstable.className = "unstable";
    unstable.textContent = row.unstable;
    div.append(stable, unstable);
    return div;
  }));
}

function onMessage(msg) {
  if (msg.type === "partial") {
    open = { segment: msg.segment, stable: msg.stable, unstable: msg.unstable };
  } else if (msg.type === "final") {
    finals.push(msg.text);
    if (finals.length > 10) finals.shift();
    if (open && open.segment === msg.segment) open = null;
  } else {
    return;
  }
  render();
}

let ws = null;
let backoff = 0.5;
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ source: q.get("source") || "en", target: q.get("target") || "de" });
  if (q.get("session")) { query.set("session", q.get("session")); query.set("role", "viewer"); }
  if (q.get("api_key")) query.set("api_key", q.get("api_key"));
  ws = new WebSocket(`${proto}//${location.host}/v1/stream?${query}`);
  ws.onopen = () => { backoff = 0.5; };
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = () => { setTimeout(connect, backoff * 1000); backoff = Math.min(backoff * 2, 10); };
}

function ownInput() {
  // Without a session the overlay captions its own microphone, where the browser can.
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (!Recognition) return;
  const button = document.getElementById("start");
  button.hidden = false;
  button.addEventListener("click", () => {
    button.hidden = true;
    const recognition = new Recognition();
    recognition.lang = q.get("source") || "en";
    recognition.interimResults = true;
    recognition.continuous = true;
    recognition.onresult = (event) => {
      for (let i = event.resultIndex; i < event.results.length; i++) {
        ws.send(JSON.stringify({ type: "replace", text: event.results[i][0].transcript }));
        if (event.results[i].isFinal) ws.send(JSON.stringify({ type: "commit" }));
      }
    };
    recognition.onend = () => recognition.start();
    recognition.start();
  });
}

connect();
if (!q.get("session")) ownInput();
window.overlay = { onMessage, render };
