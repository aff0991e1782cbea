// The video recording of a proctored exam (issue 21; protocol in docs/proctoring.md §7).
// The camera and microphone are recorded with MediaRecorder (WebM, the server's bit rate) in chunks
// of plan.recording.chunk_s seconds. Each page load is a new segment (a new WebM stream with its own
// header): the server numbers it, the chunks are numbered from 1 and uploaded in order; a lost
// connection keeps them in a bounded queue and retries with back-off (the server accepts the same
// chunk twice and refuses other bytes under a used number). Nothing here can stop the exam: a browser
// without MediaRecorder, or a recorder that fails, is reported to the proctor as an event.
"use strict";
window.ProctorRecorder = window.ProctorRecorder || (function () {
  const PM = window.ProctorMedia;
  const MAX_QUEUE_BYTES = 48 * 1024 * 1024;   // about 25 minutes at 250 kbit/s
  const STOP = new Set(["attempt_finished", "deadline_passed", "attempt_not_found", "exam_not_proctored",
                        "evidence_quota_exceeded", "recording_disabled", "recording_segments_exceeded",
                        "consent_required"]);
  const TYPES = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm"];

  class Recorder {
    // hooks: onState(state, queuedSeconds), onEvent(type, detail)
    constructor(attemptId, csrf, settings, hooks) {
      this.base = `${PM.BASE}${attemptId}/recording`;
      this.csrf = csrf;
      this.settings = settings;
      this.hooks = hooks || {};
      this.queue = [];
      this.segment = null;
      this.recorder = null;
      this.stream = null;
      this.busy = false;
      this.stopped = false;
      this.delay = 1000;
      this.restarts = 0;
      this.dropped = 0;
      this.sent = 0;
    }

    static supported() {
      return typeof window.MediaRecorder === "function" && TYPES.some((t) => MediaRecorder.isTypeSupported(t));
    }

    state(name) {
      const queued = this.queue.reduce((n, c) => n + c.duration_ms, 0) / 1000;
      if (this.hooks.onState) this.hooks.onState(name, Math.round(queued));
    }

    fail(detail) {
      if (this.hooks.onEvent) this.hooks.onEvent("recording_failed", detail);
      this.state("failed");
    }

    // Starts a new segment on this camera stream (a no-op while one records a live stream).
    async start(stream) {
      if (this.stopped || !this.settings || !this.settings.enabled) return;
      if (this.recorder && this.recorder.state === "recording" && this.stream === stream) return;
      if (!Recorder.supported()) { this.fail("MediaRecorder is not available in this browser"); this.stopped = true; return; }
      const video = stream.getVideoTracks()[0];
      if (!video) return;
      const tracks = [];
      try {
        // A lower-resolution copy of the camera for the recording; the frames keep the full picture.
        const copy = video.clone();
        const v = this.settings.video || {};
        await copy.applyConstraints({ width: v.width || 320, height: v.height || 240, frameRate: v.frame_rate || 10,
                                      resizeMode: "crop-and-scale" })
          .catch(() => {});
        tracks.push(copy);
      } catch (e) { tracks.push(video); }
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
      const segment = { number: null, seq: 0, endMs: 0, startedAt: PM.serverNow(), started: performance.now() };
      this.stream = stream;
      this.recorder = recorder;
      recorder.ondataavailable = (e) => {
        if (!e.data || !e.data.size) return;
        const end = Math.round(performance.now() - segment.started);
        segment.seq += 1;
        this.push({ segment, seq: segment.seq, blob: e.data, offset_ms: segment.endMs,
                    duration_ms: Math.max(0, end - segment.endMs) });
        segment.endMs = end;
      };
      recorder.onerror = (e) => {
        this.fail("the recorder stopped: " + ((e && e.error && e.error.name) || "error"));
        if (this.restarts < 3 && !this.stopped) {
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
      this.openSegment(segment, mimeType);
    }

    async openSegment(segment, mimeType) {
      while (!this.stopped && segment.number === null) {
        let r = null;
        try {
          r = await PM.call(this.csrf, "POST", this.base, { started_at: segment.startedAt.toISOString(),
                                                           media_type: mimeType });
        } catch (e) { r = null; }
        if (r && r.status === 200) {
          segment.number = r.data.segment;
          this.delay = 1000;
          this.pump();
          return;
        }
        if (r && (STOP.has(r.code) || r.status === 401)) { this.stop(r.code); return; }
        this.state("offline");
        await new Promise((ok) => setTimeout(ok, this.delay));
        this.delay = Math.min(this.delay * 2, 15000);
      }
    }

    push(chunk) {
      if (this.stopped) return;
      this.queue.push(chunk);
      // Bounded: beyond the limit the oldest chunks go, except a segment's first (its WebM header).
      let bytes = this.queue.reduce((n, c) => n + c.blob.size, 0);
      while (bytes > MAX_QUEUE_BYTES) {
        const index = this.queue.findIndex((c, i) => i > 0 && c.seq > 1);
        if (index < 0) break;
        bytes -= this.queue[index].blob.size;
        this.queue.splice(index, 1);
        this.dropped += 1;
        if (this.dropped === 1) this.fail("the connection was lost too long: recording chunks were dropped");
      }
      this.pump();
    }

    async pump() {
      if (this.busy || this.stopped) return;
      this.busy = true;
      try {
        while (this.queue.length && !this.stopped) {
          const chunk = this.queue[0];
          if (chunk.segment.number === null) break;  // its segment's number is still on the way
          let r = null;
          try {
            r = await PM.call(this.csrf, "POST", `${this.base}/${chunk.segment.number}?seq=${chunk.seq}`
              + `&offset_ms=${chunk.offset_ms}&duration_ms=${chunk.duration_ms}`, chunk.blob, "video/webm");
          } catch (e) { r = null; }
          if (r === null || r.status >= 500 || r.status === 408 || (r.status === 429 && r.code !== "evidence_quota_exceeded")) {
            this.state("offline");
            await new Promise((ok) => setTimeout(ok, this.delay));
            this.delay = Math.min(this.delay * 2, 15000);
            continue;
          }
          this.delay = 1000;
          if (r.status === 401 || STOP.has(r.code)) { this.stop(r.code); break; }
          this.queue.shift();  // stored (200), or refused for good (413, 409 conflict, 422): never sent again
          if (r.status === 200) this.sent += 1;
          this.state(this.recorder && this.recorder.state === "recording" ? "recording" : "stopped");
        }
      } finally {
        this.busy = false;
      }
    }

    stop(code) {
      this.stopped = true;
      this.queue = [];
      try { if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop(); } catch (e) { /* gone */ }
      this.state(code === "evidence_quota_exceeded" ? "quota" : "stopped");
    }
  }

  return { Recorder };
})();
