// Shared by the pre-exam check (proctor-check.js) and the exam page (capture.js): the upload queue
// with per-kind sequence numbers, JPEG grabs from a <video>, the screen share with its monitor check,
// a room scan burst, and the server clock offset. See docs/proctoring.md for the protocol.
"use strict";
window.ProctorMedia = window.ProctorMedia || (function () {
  const BASE = "/api/v1/proctor/attempts/";
  const MAX_ITEMS = 300;                 // evidence waiting while offline: bounded, images dropped first
  const MAX_IMAGE_BYTES = 30 * 1024 * 1024;
  const FATAL = new Set(["attempt_finished", "deadline_passed", "attempt_not_found", "exam_not_proctored",
                         "evidence_quota_exceeded"]);

  let offsetMs = 0;
  const serverNow = () => new Date(Date.now() + offsetMs);

  async function syncClock() {
    try {
      const sent = Date.now();
      const r = await fetch("/api/v1/time", { credentials: "same-origin", cache: "no-store" });
      const data = await r.json();
      offsetMs = Date.parse(data.server_now) - (sent + Date.now()) / 2;
    } catch (e) { /* offline: keep the last offset */ }
  }

  async function call(csrf, method, path, body, contentType) {
    const headers = { "X-CSRF-Token": csrf };
    let payload = body;
    if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    } else if (contentType) {
      headers["Content-Type"] = contentType;
    }
    const r = await fetch(path, { method, headers, body: payload, credentials: "same-origin", cache: "no-store" });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data, code: data && data.error ? data.error.code : null,
             message: data && data.error ? data.error.message : String(r.status) };
  }

  // One queue per attempt and page. Items keep their sequence number across retries, so a resend
  // after a lost answer is recognised by the server (stored: false, same receipt). A sequence
  // number already used by an earlier page (counters lost with the browser's storage) shows as
  // stored: false on the *first* send: the item then takes a fresh number further on.
  class Uploader {
    constructor(attemptId, csrf, hooks) {
      this.attemptId = attemptId;
      this.csrf = csrf;
      this.hooks = hooks || {};
      this.items = [];
      this.busy = false;
      this.delay = 1000;
      this.stopped = false;
      this.key = "proctor-seq:" + attemptId;
    }

    nextSeq(kind, jump) {
      let counters = {};
      try { counters = JSON.parse(localStorage.getItem(this.key) || "{}"); } catch (e) { counters = {}; }
      counters[kind] = (counters[kind] || 0) + (jump || 1);
      try { localStorage.setItem(this.key, JSON.stringify(counters)); } catch (e) { /* private mode */ }
      return counters[kind];
    }

    image(kind, blob, trigger) {
      const path = kind === "enrolment" ? "enrolment" : kind + "s";
      return this.push({ kind, seq: this.nextSeq(kind), blob, trigger: trigger || "interval",
                         url: (seq) => `${BASE}${this.attemptId}/${path}?seq=${seq}&trigger=${encodeURIComponent(trigger || "interval")}` });
    }

    roomScan(blobs) {
      return this.push({ kind: "roomscan", seq: this.nextSeq("roomscan"), blobs, keep: true,
                         url: (seq) => `${BASE}${this.attemptId}/room-scans?seq=${seq}` });
    }

    event(type, startedAt, durationS, detail) {
      return this.push({ kind: "event", seq: this.nextSeq("event"), keep: true, url: () => `${BASE}${this.attemptId}/events`,
                         json: { type, started_at: startedAt.toISOString(), duration_s: Math.max(0, durationS || 0),
                                 detail: detail || "" } });
    }

    noise(startedAt, dbfs) {
      return this.push({ kind: "noise", seq: this.nextSeq("noise"), keep: true, url: () => `${BASE}${this.attemptId}/noise`,
                         json: { started_at: startedAt.toISOString(), interval_s: 1, dbfs } });
    }

    push(item) {
      if (this.stopped) return Promise.resolve(null);
      item.tries = 0;
      const done = new Promise((resolve) => { item.resolve = resolve; });
      this.items.push(item);
      this.trim();
      this.changed();
      this.pump();
      return done;
    }

    trim() {
      // Keep events, noise and room scans; drop the oldest plain interval images first.
      const bytes = () => this.items.reduce((n, i) => n + (i.blob ? i.blob.size : 0), 0);
      while (this.items.length > MAX_ITEMS || bytes() > MAX_IMAGE_BYTES) {
        let index = this.items.findIndex((i) => i.blob && i.trigger === "interval" && i.tries === 0);
        if (index < 0) index = this.items.findIndex((i) => i.blob && i.tries === 0);
        if (index < 0) break;
        const [dropped] = this.items.splice(index, 1);
        dropped.resolve(null);
      }
    }

    changed() { if (this.hooks.onQueue) this.hooks.onQueue(this.items.length); }

    request(item) {
      const url = item.url(item.seq);
      if (item.blob) return call(this.csrf, "POST", url, item.blob, "image/jpeg");
      if (item.blobs) {
        const form = new FormData();
        item.blobs.forEach((b, i) => form.append("frame", b, `${i}.jpg`));
        return call(this.csrf, "POST", url, form);
      }
      if (item.kind === "event") return call(this.csrf, "POST", url, { events: [{ seq: item.seq, ...item.json }] });
      return call(this.csrf, "POST", url, { seq: item.seq, ...item.json });
    }

    async pump() {
      if (this.busy || this.stopped) return;
      this.busy = true;
      try {
        while (this.items.length && !this.stopped) {
          const item = this.items[0];
          item.tries += 1;
          let r;
          try {
            r = await this.request(item);
          } catch (e) {
            r = null;  // network down: retry with back-off, nothing is lost
          }
          // 408: the body did not reach the server in time (a slow network): send it again, like a lost one.
          // 429: wait and send again, except when the attempt's evidence quota is spent (nothing more is stored).
          if (r === null || r.status >= 500 || r.status === 408
              || (r.status === 429 && r.code !== "evidence_quota_exceeded")) {
            if (this.hooks.onOffline) this.hooks.onOffline(true);
            await new Promise((ok) => setTimeout(ok, this.delay));
            this.delay = Math.min(this.delay * 2, 15000);
            continue;
          }
          this.delay = 1000;
          if (this.hooks.onOffline) this.hooks.onOffline(false);
          if (r.status === 200) {
            const receipt = r.data.items && r.data.items[0];
            if (receipt && receipt.stored === false && item.tries === 1 && item.kind !== "enrolment") {
              item.seq = this.nextSeq(item.kind, 1000);  // the number was taken before this page: renumber
              continue;
            }
            this.items.shift();
            item.resolve(receipt || r.data);
          } else if (r.status === 401 || FATAL.has(r.code)) {
            this.stop();
            if (this.hooks.onFatal) this.hooks.onFatal(r);
          } else {
            this.items.shift();  // 4xx: the same request will never be accepted
            item.resolve(null);
            if (this.hooks.onRefused) this.hooks.onRefused(r);
          }
          this.changed();
        }
      } finally {
        this.busy = false;
      }
    }

    stop() {
      this.stopped = true;
      this.items.forEach((i) => i.resolve(null));
      this.items = [];
      this.changed();
    }
  }

  function videoOf(stream) {
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    video.play().catch(() => { /* starts once the stream has frames */ });
    return video;
  }

  function grab(video, maxWidth, quality) {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h || video.readyState < 2) return Promise.resolve(null);
    const scale = Math.min(1, maxWidth / w);
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((ok) => canvas.toBlob(ok, "image/jpeg", quality));
  }

  // Resolves to {stream, surface}; rejects with {code}: unsupported, denied, not_monitor.
  async function shareScreen() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) throw { code: "unsupported" };
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { displaySurface: "monitor", width: { ideal: 1920 } }, audio: false,
        monitorTypeSurfaces: "include", selfBrowserSurface: "exclude", surfaceSwitching: "exclude",
      });
    } catch (e) {
      throw { code: e && e.name === "NotSupportedError" ? "unsupported" : "denied" };
    }
    const track = stream.getVideoTracks()[0];
    const surface = track && track.getSettings ? track.getSettings().displaySurface : undefined;
    // Firefox reports no displaySurface on older versions: accept only an explicit "monitor".
    if (surface !== "monitor") {
      stream.getTracks().forEach((t) => t.stop());
      throw { code: "not_monitor", surface: surface || "unknown" };
    }
    return { stream, surface };
  }

  // 6 frames one second apart while the student turns the camera; onTick(secondsLeft).
  async function roomScan(video, onTick) {
    const frames = [];
    for (let i = 0; i < 6; i++) {
      if (onTick) onTick(6 - i);
      await new Promise((ok) => setTimeout(ok, 1000));
      const blob = await grab(video, 640, 0.75);
      if (blob) frames.push(blob);
    }
    return frames;
  }

  const fmt = (text, params) => text.replace(/\{(\w+)\}/g, (_, k) => (k in params ? params[k] : "{" + k + "}"));

  return { Uploader, call, syncClock, serverNow, videoOf, grab, shareScreen, roomScan, fmt, BASE };
})();
