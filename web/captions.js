// WebVTT/SRT from timed finals; shared by the page and the overlay.
"use strict";
const Captions = {
  timestamp(seconds, sep) {
    let ms = Math.max(0, Math.round(seconds * 1000));
    const h = Math.floor(ms / 3600000); ms -= h * 3600000;
    const m = Math.floor(ms / 60000); ms -= m * 60000;
    const s = Math.floor(ms / 1000); ms -= s * 1000;
    const pad = (n, w) => String(n).padStart(w, "0");
    return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${sep}${pad(ms, 3)}`;
  },
  clean(text) {
    return text.replace(/-->/g, "→").split(/\r?\n/).filter((l) => l.trim()).join("\n") || " ";
  },
  vtt(cues) {
    return "WEBVTT\n\n" + cues.map((c) =>
      `${this.timestamp(c.start, ".")} --> ${this.timestamp(c.end, ".")}\n${this.clean(c.text)}\n\n`).join("");
  },
  srt(cues) {
    return cues.map((c, i) =>
      `${i + 1}\n${this.timestamp(c.start, ",")} --> ${this.timestamp(c.end, ",")}\n${this.clean(c.text)}\n\n`).join("");
  },
};
