// The video recording of a proctored exam (issue 21; protocol in docs/proctoring.md §7).
// The camera and microphone are recorded with MediaRecorder (WebM, the server's bit rate) in chunks
// of plan.recording.chunk_s seconds. Each page load is a new segment (a new WebM stream with its own
// header): the server numbers it, the chunks are numbered from 1 and uploaded oldest first.
// Chunks wait in a queue kept in the browser's IndexedDB (per attempt, segment and chunk number), so
// neither a lost connection nor a reload loses them: a reloaded page first sends what the previous
// page left, each chunk to its own segment, and a chunk leaves the store only when the server has
// acknowledged it (stored, or "already have it"). The queue is bounded in bytes: when it is full the
// recording pauses (nothing already recorded is evicted), the page says so and the proctor is told;
// it resumes as a new segment once the queue has drained. At the end of the exam (finish) the
// recorder stops, its last chunk is queued and the queue is sent while the page waits a few seconds
// at most; the result page sends whatever is left (sendLeft), within the server's tail after the
// end, opening the segment of a page that never got its number before the end (docs/proctoring.md §7). Nothing here can stop the exam: a browser
// without MediaRecorder or IndexedDB, or a recorder that fails, is reported to the proctor as an event.
"use strict";
window.ProctorRecorder = window.ProctorRecorder || (function () {
  const PM = window.ProctorMedia;
  const MAX_QUEUE_BYTES = 48 * 1024 * 1024;   // about 25 minutes at 250 kbit/s (the server's queue_bytes wins)
  // Final answers: nothing queued for this attempt can ever be stored, so the queue is cleared.
  const FINAL = new Set(["attempt_finished", "deadline_passed", "attempt_not_found", "exam_not_proctored",
                         "evidence_quota_exceeded", "recording_disabled", "recording_segments_exceeded",
                         "consent_required"]);
  // Answers that mean "not now" (the proctor paused the attempt): the chunk waits and is sent again.
  const LATER = new Set(["attempt_paused"]);
  const TYPES = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm"];
  const DB = "exam-recording";
  // What the exam page leaves at the hand-in is its recorder's last chunk and what waited a few
  // seconds before it; more than this, or a part the server never numbered, is a part of the
  // recording the exam page could not send (the result page says so, not "the last seconds").
  const LAST_SECONDS = 60;

  // The persistent queue: one record per chunk, keyed [attempt, segment's creation time, segment's
  // local id, chunk number] so that a key range walks one attempt's chunks oldest first; one record
  // per segment with the number the server gave it (null until then).
  class Store {
    static open() {
      return new Promise((ok, fail) => {
        if (!window.indexedDB) { fail(new Error("IndexedDB is not available")); return; }
        const req = indexedDB.open(DB, 1);
        req.onupgradeneeded = () => {
          req.result.createObjectStore("chunks", { keyPath: "key" });
          req.result.createObjectStore("segments", { keyPath: "key" });
        };
        req.onsuccess = () => ok(new Store(req.result));
        req.onerror = () => fail(req.error);
        req.onblocked = () => fail(new Error("IndexedDB is blocked"));
      });
    }

    constructor(db) { this.db = db; }

    run(stores, mode, fn) {
      return new Promise((ok, fail) => {
        const tx = this.db.transaction(stores, mode);
        const out = fn(tx);
        tx.oncomplete = () => ok(out && "result" in out ? out.result : undefined);
        tx.onerror = () => fail(tx.error);
        tx.onabort = () => fail(tx.error || new Error("aborted"));
      });
    }

    all(name) { return this.run([name], "readonly", (tx) => tx.objectStore(name).getAll()); }
    put(name, value) { return this.run([name], "readwrite", (tx) => { tx.objectStore(name).put(value); }); }
    remove(name, key) { return this.run([name], "readwrite", (tx) => { tx.objectStore(name).delete(key); }); }

    // Everything of an attempt (the attempt is over: nothing of it can be stored any more).
    async clear(attempt) {
      const range = IDBKeyRange.bound([attempt], [attempt, []]);
      await this.run(["chunks", "segments"], "readwrite", (tx) => {
        tx.objectStore("chunks").delete(range);
        tx.objectStore("segments").delete(range);
      });
    }
  }

  function compare(a, b) { return indexedDB.cmp(a.key, b.key); }

  // The camera's frames cropped to the recording's aspect and scaled to its size, at most its frame
  // rate: MediaStreamTrackProcessor → OffscreenCanvas → MediaStreamTrackGenerator (driven by the
  // frames, not by timers, so a background tab does not slow it). Null where the browser lacks them.
  function scaledTrack(track, size) {
    if (typeof window.MediaStreamTrackProcessor !== "function" || typeof window.MediaStreamTrackGenerator !== "function"
        || typeof window.OffscreenCanvas !== "function" || typeof window.VideoFrame !== "function") return null;
    const processor = new MediaStreamTrackProcessor({ track });
    const generator = new MediaStreamTrackGenerator({ kind: "video" });
    const canvas = new OffscreenCanvas(size.width, size.height);
    const ctx = canvas.getContext("2d");
    const step = 1e6 / size.fps;   // VideoFrame timestamps are in microseconds
    let next = -Infinity;
    processor.readable.pipeThrough(new TransformStream({
      transform(frame, out) {
        try {
          if (frame.timestamp < next) return;
          next = Math.max(next + step, frame.timestamp - step / 2);
          const w = frame.displayWidth, h = frame.displayHeight;
          const scale = Math.max(size.width / w, size.height / h);
          const sw = size.width / scale, sh = size.height / scale;
          ctx.drawImage(frame, (w - sw) / 2, (h - sh) / 2, sw, sh, 0, 0, size.width, size.height);
          out.enqueue(new VideoFrame(canvas, { timestamp: frame.timestamp }));
        } finally {
          frame.close();
        }
      },
    })).pipeTo(generator.writable).catch(() => {});
    return generator;
  }

  class Recorder {
    // hooks: onState(state, queuedSeconds, {whole, refused}), onEvent(type, detail). options.sendOnly: no recording,
    // only what earlier pages of this attempt left queued is sent (records of other attempts are kept).
    constructor(attemptId, csrf, settings, hooks, options) {
      this.attemptId = String(attemptId);
      this.base = `${PM.BASE}${attemptId}/recording`;
      this.csrf = csrf;
      this.settings = settings || {};
      this.maxBytes = this.settings.queue_bytes || MAX_QUEUE_BYTES;
      this.hooks = hooks || {};
      this.sendOnly = !!(options && options.sendOnly);
      this.queue = [];             // chunks not yet acknowledged, oldest first
      this.segment = null;         // the segment this page records
      this.recorder = null;
      this.stream = null;
      this.busy = false;
      this.stopped = false;
      this.full = false;           // the queue reached its bound: recording paused
      this.delay = 1000;
      this.restarts = 0;
      this.dropped = 0;
      this.sent = 0;
      this.refused = 0;            // chunks dropped because the server refused them for good
      this.whole = false;          // sendOnly: a part the exam page never sent (or more than its last seconds)
      this.store = null;
      this.ready = this.load();
    }

    static supported() {
      return typeof window.MediaRecorder === "function" && TYPES.some((t) => MediaRecorder.isTypeSupported(t));
    }

    bytes() { return this.queue.reduce((n, c) => n + c.size, 0); }

    state(name) {
      const queued = this.queue.reduce((n, c) => n + c.duration_ms, 0) / 1000;
      const shown = this.full && name !== "failed" && name !== "quota" && name !== "stopped" ? "full" : name;
      if (this.hooks.onState) this.hooks.onState(shown, Math.round(queued), { whole: this.whole, refused: this.refused });
    }

    // recording_failed: the recording does not work; recording_paused: the queue is full (it resumes).
    event(detail, type) {
      if (this.hooks.onEvent) this.hooks.onEvent(type || "recording_failed", detail);
    }

    fail(detail) {
      this.event(detail);
      this.state("failed");
    }

    // What an earlier page of this attempt left unsent (chunks of other attempts can never be sent
    // from here: their attempt is over, or another page sends them, so they are removed).
    async load() {
      try {
        this.store = await Store.open();
      } catch (e) {
        this.store = null;
        this.event("the browser keeps no recording queue (IndexedDB: " + ((e && e.name) || e) + "): chunks "
                   + "still queued when the page is reloaded are lost");
        return;
      }
      try {
        const segments = new Map();
        const others = new Set();
        for (const s of await this.store.all("segments")) {
          if (s.attempt === this.attemptId) {
            segments.set(s.local, { local: s.local, key: s.key, created: s.created, number: s.number,
                                    startedAt: new Date(s.startedAt), mimeType: s.mimeType, seq: 0 });
          } else if (!this.sendOnly) {
            others.add(s.attempt);
          }
        }
        const loaded = [];
        for (const c of await this.store.all("chunks")) {
          if (c.attempt !== this.attemptId) { if (!this.sendOnly) others.add(c.attempt); continue; }
          const segment = segments.get(c.local);
          if (!segment) { await this.store.remove("chunks", c.key); continue; }
          loaded.push({ key: c.key, segment, seq: c.seq, blob: c.blob, size: c.size,
                        offset_ms: c.offset_ms, duration_ms: c.duration_ms });
        }
        for (const attempt of others) await this.store.clear(attempt);
        const waiting = new Set(loaded.map((c) => c.segment.local));
        for (const segment of segments.values()) {  // fully sent: its record is no longer needed
          if (!waiting.has(segment.local)) await this.store.remove("segments", segment.key);
        }
        loaded.sort(compare);
        const seconds = loaded.reduce((n, c) => n + c.duration_ms, 0) / 1000;
        this.whole = this.sendOnly && (loaded.some((c) => c.segment.number === null) || seconds > LAST_SECONDS);
        this.queue = loaded.concat(this.queue);
        if (loaded.length) this.state("offline");
        else if (this.sendOnly) this.state("sent");
      } catch (e) {
        this.event("the recording queue could not be read: " + ((e && e.name) || e));
      }
      this.pump();
    }

    // Starts a new segment on this camera stream (a no-op while one records a live stream).
    async start(stream) {
      if (this.stopped || this.finishing || this.sendOnly || !this.settings || !this.settings.enabled) return;
      if (this.recorder && this.recorder.state === "recording" && this.stream === stream) return;
      if (!Recorder.supported()) { this.fail("MediaRecorder is not available in this browser"); this.stopped = true; return; }
      const video = stream.getVideoTracks()[0];
      if (!video) return;
      this.stream = stream;
      if (this.full) return;  // paused until the queue has drained (resume() starts it)
      const tracks = [];
      const v = this.settings.video || {};
      const size = { width: v.width || 320, height: v.height || 240, fps: v.frame_rate || 10 };
      try {
        // A lower-resolution copy of the camera for the recording; the frames keep the full picture.
        const copy = video.clone();
        await copy.applyConstraints({ width: size.width, height: size.height, frameRate: size.fps,
                                      resizeMode: "crop-and-scale" })
          .catch(() => {});
        // Chromium's encoder is given the source's picture whatever the constraints say (its track
        // marks frames for scaling, the recorder encodes them whole): the frames are scaled here.
        const scaled = scaledTrack(copy, size);
        this.scaler = scaled ? "frames" : "constraints";
        tracks.push(scaled || copy);
      } catch (e) { tracks.push(video); this.scaler = "none"; }
      stream.getAudioTracks().forEach((t) => tracks.push(t));
      const mimeType = TYPES.find((t) => MediaRecorder.isTypeSupported(t));
      const kbps = this.settings.kbps || 250;
      const audio = Math.min(32, Math.round(kbps / 4));
      let recorder;
      try {
        recorder = new MediaRecorder(new MediaStream(tracks), { mimeType, videoBitsPerSecond: (kbps - audio) * 1000,
                                                                audioBitsPerSecond: audio * 1000 });
      } catch (e) {
        this.fail("MediaRecorder refused the camera: " + (e && e.name));
        return;
      }
      const created = Date.now();
      const local = created.toString(36) + "-" + Math.random().toString(36).slice(2, 10);
      const segment = { local, key: [this.attemptId, created, local], created, number: null, seq: 0, endMs: 0,
                        startedAt: PM.serverNow(), mimeType, started: performance.now() };
      this.segment = segment;
      this.recorder = recorder;
      this.track = tracks[0];
      recorder.ondataavailable = (e) => {
        if (!e.data || !e.data.size) return;
        const end = Math.round(performance.now() - segment.started);
        segment.seq += 1;
        this.push({ key: [...segment.key, segment.seq], segment, seq: segment.seq, blob: e.data, size: e.data.size,
                    offset_ms: segment.endMs, duration_ms: Math.max(0, end - segment.endMs) });
        segment.endMs = end;
      };
      recorder.onerror = (e) => {
        this.fail("the recorder stopped: " + ((e && e.error && e.error.name) || "error"));
        if (this.restarts < 3 && !this.stopped && !this.finishing) {
          this.restarts += 1;
          setTimeout(() => { if (this.stream) this.start(this.stream); }, 5000);
        }
      };
      try {
        recorder.start(Math.round((this.settings.chunk_s || 5) * 1000));
      } catch (e) {
        this.fail("the recorder did not start: " + (e && e.name));
        return;
      }
      this.state("recording");
      await this.ready;
      await this.keep("segments", this.segmentRecord(segment));
      this.pump();
    }

    segmentRecord(segment) {
      return { key: segment.key, attempt: this.attemptId, local: segment.local, created: segment.created,
               number: segment.number, startedAt: segment.startedAt.toISOString(), mimeType: segment.mimeType };
    }

    // Writes to the persistent queue. A browser that refuses to store a chunk (its own storage
    // quota, QuotaExceededError) is full too: the chunk waits in memory only (lost on a reload),
    // and the recording pauses until the whole queue has been sent; the proctor is told.
    async keep(name, value) {
      if (!this.store) return;
      try {
        await this.store.put(name, value);
      } catch (e) {
        if (name === "chunks") this.pause("the browser refused to store the recording (" + ((e && e.name) || e) + ")", true);
        else if (!this.storeFailed) {
          this.storeFailed = true;
          this.event("the browser refused to keep the recording queue (" + ((e && e.name) || e) + ")");
        }
      }
    }

    // The queue is full: the recorder stops; nothing recorded earlier is evicted.
    pause(why, browser) {
      if (!this.full) {
        this.full = true;
        this.fullByBrowser = !!browser;
        try { if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop(); } catch (e) { /* gone */ }
        this.event(why + ": the recording is paused until the queued chunks have been sent", "recording_paused");
      }
      this.state("full");
    }

    async forget(chunk) {
      if (!this.store) return;
      try { await this.store.remove("chunks", chunk.key); } catch (e) { /* sent: a stale record is resent, answered "already have it" */ }
    }

    // The server's number for a segment (an earlier page's segment may never have got one; after the
    // end, within the tail, the server still opens one that started before the end). False while it
    // is being asked for, or when the server refused it for good (segment.refused: it started after
    // the end, so none of its chunks can be stored).
    async number(segment) {
      if (segment.number !== null) return true;
      if (segment.opening || segment.refused) return false;
      segment.opening = true;
      let r = null;
      try {
        r = await PM.call(this.csrf, "POST", this.base, { started_at: segment.startedAt.toISOString(),
                                                         media_type: segment.mimeType });
      } catch (e) { r = null; }
      segment.opening = false;
      if (r && r.status === 200) {
        segment.number = r.data.segment;
        await this.keep("segments", this.segmentRecord(segment));
        return true;
      }
      if (r && (FINAL.has(r.code) || r.status === 401)) { this.stop(r.code); return false; }
      if (r && r.code === "recording_after_end") { segment.refused = true; return false; }
      throw new Error("offline");
    }

    async push(chunk) {
      if (this.stopped) return;
      if (this.full || this.bytes() + chunk.size > this.maxBytes) {
        // Full: the recording pauses here. Nothing recorded earlier is evicted.
        this.dropped += 1;
        this.pause(`the recording queue on the student's computer is full (${Math.round(this.maxBytes / 1048576 * 10) / 10} MB `
                   + "waiting for the connection)");
        return;
      }
      // Sent only once written, so an acknowledged chunk's record is never written after its removal.
      chunk.saved = this.ready.then(() => this.keep("chunks", {
        key: chunk.key, attempt: this.attemptId, local: chunk.segment.local, seq: chunk.seq, blob: chunk.blob,
        size: chunk.size, offset_ms: chunk.offset_ms, duration_ms: chunk.duration_ms }));
      this.queue.push(chunk);
      await chunk.saved;
      this.pump();
    }

    // After a pause for a full queue: once half of it has been sent (all of it when the browser
    // refused to store more), a new segment starts.
    resume() {
      if (!this.full || this.stopped || this.finishing || this.bytes() > (this.fullByBrowser ? 0 : this.maxBytes / 2)) return;
      this.full = false;  // no second event: the proctor sees the pause as the gap between two parts
      this.recorder = null;
      if (this.stream) this.start(this.stream);
    }

    async backoff() {
      this.state("offline");
      // While the page is leaving (the exam is over) it tries again every half second.
      await new Promise((ok) => { this.wake = ok; setTimeout(ok, this.finishing ? 500 : this.delay); });
      this.wake = null;
      this.delay = Math.min(this.delay * 2, 15000);
    }

    async pump() {
      if (this.busy || this.stopped) return;
      this.busy = true;
      try {
        await this.ready;
        while (this.queue.length && !this.stopped) {
          const chunk = this.queue[0];
          if (chunk.saved) await chunk.saved;
          let known;
          try { known = await this.number(chunk.segment); } catch (e) { await this.backoff(); continue; }
          if (!known) {
            if (this.stopped) break;
            if (chunk.segment.refused) {  // never stored: dropped like a chunk refused for good
              this.queue.shift();
              this.refused += 1;
              await this.forget(chunk);
              if (this.sendOnly) this.state(this.queue.length ? "offline" : "sent");
              continue;
            }
            await new Promise((ok) => setTimeout(ok, 200));  // its number is being asked for
            continue;
          }
          let r = null;
          try {
            r = await PM.call(this.csrf, "POST", `${this.base}/${chunk.segment.number}?seq=${chunk.seq}`
              + `&offset_ms=${chunk.offset_ms}&duration_ms=${chunk.duration_ms}`, chunk.blob, "video/webm");
          } catch (e) { r = null; }
          if (r === null || r.status >= 500 || r.status === 408 || LATER.has(r.code)
              || (r.status === 429 && r.code !== "evidence_quota_exceeded")) {
            await this.backoff();
            continue;
          }
          this.delay = 1000;
          if (r.status === 401 || FINAL.has(r.code)) { this.stop(r.code); break; }
          // Acknowledged (200: stored, or stored already), or refused for good (413, 409 conflict, 422,
          // 404 segment): never sent again.
          this.queue.shift();
          await this.forget(chunk);
          if (r.status === 200) this.sent += 1;
          else this.refused += 1;
          this.resume();
          if (this.sendOnly) this.state(this.queue.length ? "offline" : "sent");
          else this.state(!this.recorder || this.recorder.state === "recording" ? "recording" : "stopped");
        }
        if (!this.queue.length && this.full) this.resume();
      } finally {
        this.busy = false;
      }
    }

    // The exam is over (handed in, or closed at its deadline): the recorder stops, its last chunk
    // (what it recorded since the previous one) is queued, and the queue is sent — the server takes
    // chunks recorded before the end for a while after it (EXAM_RECORDING_TAIL_S). Resolves when the
    // queue is empty or nothing more can be sent; the page bounds how long it waits, and what is
    // left stays in IndexedDB for a later page of this browser.
    finish() {
      if (this.ending) return this.ending;
      this.finishing = true;
      this.delay = 1000;
      if (this.wake) this.wake();  // a back-off in progress tries again at once
      this.ending = (async () => {
        const recorder = this.recorder;
        if (recorder && recorder.state !== "inactive") {
          await new Promise((ok) => {
            recorder.addEventListener("stop", ok, { once: true });  // after the last dataavailable
            setTimeout(ok, 2000);  // a recorder that never says it stopped
            try { recorder.stop(); } catch (e) { ok(); }
          });
        }
        await this.ready;
        const saved = this.queue.map((c) => c.saved).filter(Boolean);
        await Promise.allSettled(saved);
        this.pump();
        while (this.queue.length && !this.stopped) await new Promise((ok) => setTimeout(ok, 100));
        if (!this.stopped) this.state("stopped");
      })();
      return this.ending;
    }

    // The recording ends. A final answer (the attempt is over, its quota reached) clears the queue:
    // nothing in it can be stored any more. A lost session (401) keeps it for the next page.
    stop(code) {
      this.stopped = true;
      this.queue = [];
      if (this.store && FINAL.has(code)) this.store.clear(this.attemptId).catch(() => {});
      try { if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop(); } catch (e) { /* gone */ }
      this.state(code === "evidence_quota_exceeded" ? "quota" : "stopped");
    }

    // What the recording is made of and what waits (the browser tests read it from the recorder
    // capture.js makes; the page keeps no reference to it on window).
    info() {
      const s = this.track && this.track.getSettings ? this.track.getSettings() : {};
      return { width: s.width, height: s.height, frameRate: s.frameRate, scaler: this.scaler, queued: this.queue.length,
               bytes: this.bytes(), full: this.full, dropped: this.dropped, persistent: !!this.store,
               segment: this.segment && this.segment.number, finishing: !!this.finishing, sent: this.sent };
    }
  }

  // A later page of this browser (the result page after the hand-in) sends what the exam page left
  // queued when it left (it waits a few seconds at most): the server takes it for a while after the
  // end (EXAM_RECORDING_TAIL_S) and refuses it after, when the records are deleted.
  // A browser that never recorded an exam (a page without proctoring) has no queue: none is created.
  async function sendLeft(attemptId, csrf, onState) {
    if (!window.indexedDB) return null;
    if (indexedDB.databases) {
      try { if (!(await indexedDB.databases()).some((d) => d.name === DB)) return null; } catch (e) { /* ask anyway */ }
    }
    return new Recorder(attemptId, csrf, { enabled: false }, { onState }, { sendOnly: true });
  }

  return { Recorder, Store, sendLeft };
})();
