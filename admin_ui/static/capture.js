// Proctoring capture on the exam page (loaded only when the exam requires proctoring).
// - One live exam page per attempt: a heartbeat with this page's id; a second page is refused by
//   the server and shown a clear message (the refusal is recorded there).
// - A webcam JPEG every frame_interval_s and at once on a suspicious event; a screenshot of the
//   shared monitor every screen_interval_s and on events; microphone loudness (dBFS) every second,
//   sent in batches; browser events with their durations; the proctor's room-scan requests.
// - The camera and microphone recorded as video (recorder.js), with a small "recording" mark.
// - Everything goes through ProctorMedia.Uploader: per-kind sequence numbers, retries after a
//   network drop, a bounded queue. exam.js knows nothing of this file.
"use strict";
(function () {
  const PM = window.ProctorMedia;
  const examConfig = JSON.parse(document.getElementById("exam-config").textContent);
  const P = examConfig.proctoring;
  if (!P || !PM) return;
  const M = P.messages;
  const $ = (id) => document.getElementById(id);
  if (P.needs_check || !P.attempt_id) { window.location = `/exam/${examConfig.exam_id}/check`; return; }

  const attemptId = P.attempt_id;
  const call = (method, path, body) => PM.call(P.csrf, method, path, body);
  let plan = null, stopped = false, camera = null, cameraVideo = null, screenVideo = null;
  let queued = 0, offline = false, roomScanning = false, recorder = null;
  const open = {};           // lasting events in progress: type -> {start, detail}
  const timers = [];

  const uploader = new PM.Uploader(attemptId, P.csrf, {
    onQueue: (n) => { queued = n; status(); },
    onOffline: (v) => { offline = v; status(); },
    onFatal: () => stop(),
  });

  function status() {
    const el = $("capture-status");
    if (!el) return;
    el.classList.toggle("queued", queued > 2 || offline);
    el.textContent = queued > 2 || offline ? PM.fmt(M.queued, { count: queued }) : M.recording;
  }

  // The small "recording" mark: what the video recorder is doing (recorder.js).
  function recordingState(state, seconds) {
    const el = $("recording-indicator");
    if (!el) return;
    const text = { recording: M.rec_on, offline: M.rec_offline, failed: M.rec_failed, quota: M.rec_quota,
                   stopped: M.rec_stopped, full: M.rec_full }[state] || M.rec_on;
    el.hidden = false;
    el.dataset.state = state;
    el.textContent = PM.fmt(text, { seconds });
  }

  // The dialog holds the exam until its cause is gone (the screen shared again, a room scan done, a
  // second page refused): Escape must not close it — it did, and the only «Share the entire screen»
  // button went with it, the page left without a way to share again (or, refused as a second page,
  // blank with no word why). Only this script closes it (closeDialog).
  let held = false;
  const heldDialog = $("capture-dialog");
  if (heldDialog) {
    heldDialog.addEventListener("cancel", (e) => e.preventDefault());
    heldDialog.addEventListener("close", () => { if (held) heldDialog.showModal(); });
  }

  function dialog(text, buttonText, onClick) {
    const d = $("capture-dialog");
    held = true;
    $("capture-dialog-text").textContent = text;
    const b = $("capture-dialog-button");
    b.hidden = !buttonText;
    b.textContent = buttonText || "";
    b.onclick = onClick || null;
    if (!d.open) d.showModal();
    return d;
  }

  function closeDialog() { const d = $("capture-dialog"); held = false; if (d.open) d.close(); }

  // Capture stops: no more frames, screenshots, loudness or heartbeats. The recording is then either
  // stopped where it is (stop) or its last seconds are sent (finish).
  function halt() {
    stopped = true;
    timers.forEach((t) => clearInterval(t));
  }

  function stop() {
    halt();
    if (recorder) recorder.stop();
  }

  // The exam is over (handed in, or closed at its deadline): capture stops, and the recording's last
  // seconds are queued and sent before the page leaves (recorder.finish). exam.js calls the page's
  // leave hooks and bounds how long it waits for them; what is not sent by then stays queued in
  // the browser (IndexedDB) and a later page of this attempt sends it while the server takes it.
  function finish() {
    halt();
    return recorder ? recorder.finish() : Promise.resolve();
  }
  window.examBeforeLeave = window.examBeforeLeave || [];
  window.examBeforeLeave.push(finish);

  function every(seconds, fn) { timers.push(setInterval(fn, Math.max(1, seconds) * 1000)); }

  // ------------------------------------------------------------------ events

  function instant(type, detail) {
    if (stopped) return;
    uploader.event(type, PM.serverNow(), 0, detail);
    snap(type);
  }

  function begin(type, detail) {
    if (stopped || open[type]) return;
    open[type] = { start: PM.serverNow(), detail: detail || "" };
    snap(type);
  }

  function end(type) {
    const e = open[type];
    if (!e) return;
    delete open[type];
    uploader.event(type, e.start, (PM.serverNow() - e.start) / 1000, e.detail);
  }

  function snap(trigger) {
    frame(trigger);
    screenshot(trigger);
  }

  async function frame(trigger) {
    if (stopped || !cameraVideo) return;
    const blob = await PM.grab(cameraVideo, 640, 0.8);
    if (blob) uploader.image("frame", blob, trigger);
  }

  async function screenshot(trigger) {
    if (stopped || !screenVideo) return;
    const blob = await PM.grab(screenVideo, 1280, 0.7);
    if (blob) uploader.image("screen", blob, trigger);
  }

  function listen() {
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") begin("tab_hidden"); else end("tab_hidden");
    });
    window.addEventListener("blur", () => begin("window_blur"));
    window.addEventListener("focus", () => end("window_blur"));
    document.addEventListener("fullscreenchange", () => {
      if (document.fullscreenElement) end("fullscreen_exit"); else begin("fullscreen_exit");
    });
    document.addEventListener("paste", () => instant("paste"));
    document.addEventListener("copy", () => instant("copy"));
    window.addEventListener("beforeprint", () => instant("print"));
    document.addEventListener("contextmenu", () => instant("context_menu"));
    let docked = false;
    window.addEventListener("resize", () => {
      // Docked developer tools shrink the page but not the window.
      const gapW = window.outerWidth - window.innerWidth, gapH = window.outerHeight - window.innerHeight;
      const now = gapW > 200 || gapH > 250;
      if (now && !docked) instant("devtools_resize", `outer ${window.outerWidth}x${window.outerHeight}, inner ${window.innerWidth}x${window.innerHeight}`);
      docked = now;
    });
    if (window.screen && "isExtended" in window.screen) {
      const check = () => { if (window.screen.isExtended) instant("second_monitor", "screen.isExtended"); };
      check();
      if (window.screen.addEventListener) window.screen.addEventListener("change", check);
    }
    window.addEventListener("pagehide", () => {
      // Lasting events still open are sent as they stand (keepalive survives the unload).
      for (const [type, e] of Object.entries(open)) {
        fetch(`${PM.BASE}${attemptId}/events`, { method: "POST", keepalive: true, credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": P.csrf },
          body: JSON.stringify({ events: [{ seq: uploader.nextSeq("event"), type, started_at: e.start.toISOString(),
            duration_s: (PM.serverNow() - e.start) / 1000, detail: e.detail + " (page closed)" }] }) });
      }
    });
  }

  // ------------------------------------------------------------------ camera and microphone

  async function startCamera() {
    let stream = window.examMedia && window.examMedia.getVideoTracks().some((t) => t.readyState === "live")
      ? window.examMedia : null;
    if (!stream) {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
      } catch (e) {
        begin("camera_lost", "no camera: " + (e && e.name));
        // Blocked by the browser (permission refused or withdrawn) needs the permission, not the cable.
        $("capture-alert").textContent = e && (e.name === "NotAllowedError" || e.name === "SecurityError")
          ? M.camera_blocked : M.camera_lost;
        setTimeout(startCamera, 5000);
        return;
      }
    }
    window.examMedia = camera = stream;
    cameraVideo = PM.videoOf(stream);
    end("camera_lost");
    $("capture-alert").textContent = "";
    stream.getVideoTracks().forEach((t) => t.addEventListener("ended", () => {
      cameraVideo = null;
      begin("camera_lost", "track ended");
      $("capture-alert").textContent = M.camera_lost;
      setTimeout(startCamera, 2000);
    }));
    startNoise(stream);
    if (recorder) recorder.start(stream);
  }

  let noiseStarted = false;
  function startNoise(stream) {
    if (noiseStarted || !stream.getAudioTracks().length) return;
    noiseStarted = true;
    const audio = new AudioContext();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 2048;
    audio.createMediaStreamSource(stream).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    let batch = [], batchStart = null;
    const resume = () => { if (audio.state === "suspended") audio.resume(); };
    document.addEventListener("pointerdown", resume);
    document.addEventListener("keydown", resume);
    every(1, () => {
      if (stopped || audio.state !== "running") return;
      analyser.getFloatTimeDomainData(buf);
      let sq = 0;
      for (const v of buf) sq += v * v;
      const dbfs = 20 * Math.log10(Math.sqrt(sq / buf.length) || 1e-10);
      if (!batch.length) batchStart = PM.serverNow();
      batch.push(Math.round(Math.max(-200, Math.min(0, dbfs)) * 10) / 10);
    });
    every(plan.noise_batch_s || 10, () => {
      if (!batch.length) return;
      uploader.noise(batchStart, batch.slice(0, 120));
      batch = [];
    });
  }

  // ------------------------------------------------------------------ screen

  function useScreen(stream) {
    window.examScreen = stream;
    screenVideo = PM.videoOf(stream);
    end("screen_share_stopped");
    closeDialog();
    stream.getVideoTracks().forEach((t) => t.addEventListener("ended", () => {
      screenVideo = null;
      begin("screen_share_stopped", "the share was stopped");
      askScreen(M.share_again);
    }));
  }

  function askScreen(text) {
    if (stopped || plan.screen_policy === "off") return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
      if (plan.screen_policy === "require") dialog(M.screen_unsupported);
      else instant("screen_share_stopped", "getDisplayMedia unavailable");
      return;
    }
    if (plan.screen_policy === "flag") begin("screen_share_stopped", "not shared");
    // "require": the exam stays behind a modal dialog until the whole screen is shared.
    const show = plan.screen_policy === "require" ? dialog : (t, b, f) => {
      $("capture-alert").textContent = t;
      const button = $("capture-share");
      button.hidden = false;
      button.onclick = () => { button.hidden = true; $("capture-alert").textContent = ""; f(); };
    };
    show(text, M.share_button, async () => {
      try {
        useScreen((await PM.shareScreen()).stream);
      } catch (e) {
        askScreen({ unsupported: M.screen_unsupported, not_monitor: M.screen_not_monitor }[e.code] || M.screen_denied);
      }
    });
  }

  // ------------------------------------------------------------------ heartbeat and requests

  function pageId() {
    const key = "exam-page:" + attemptId;
    const nav = performance.getEntriesByType("navigation")[0];
    const reload = nav && nav.type === "reload" && location.pathname.startsWith("/exam/");
    let id = reload ? sessionStorage.getItem(key) : null;
    if (!id) {
      id = (crypto.randomUUID && crypto.randomUUID()) || String(Math.random()).slice(2);
      sessionStorage.setItem(key, id);
    }
    return { id, reload };
  }

  const page = pageId();

  async function heartbeat() {
    if (stopped) return null;
    let r;
    try { r = await call("POST", `${PM.BASE}${attemptId}/heartbeat`, { page_id: page.id }); } catch (e) { return null; }
    if (r.status === 409 && r.code === "second_exam_page") {
      stop();
      uploader.stop();
      const exam = $("exam");
      if (exam) exam.hidden = true;
      document.body.classList.add("exam-refused");
      dialog(M.second_page);
      return null;
    }
    if (r.status === 409 && r.code === "consent_required") { window.location = `/exam/${examConfig.exam_id}/check`; return null; }
    if (r.status !== 200) {
      if (r.code === "attempt_finished" || r.code === "deadline_passed") finish();  // closed while open: send the rest
      else if (r.status === 401 || r.status === 404) stop();
      return null;
    }
    plan = r.data;
    if (plan.pending_requests.some((q) => q.kind === "room_scan")) roomScan();
    return plan;
  }

  async function roomScan() {
    if (roomScanning || !cameraVideo) return;
    roomScanning = true;
    dialog(PM.fmt(M.room_scan, { seconds: 6 }));
    try {
      const frames = await PM.roomScan(cameraVideo, (left) => { $("capture-dialog-text").textContent = PM.fmt(M.room_scan, { seconds: left }); });
      closeDialog();
      if (frames.length) await uploader.roomScan(frames);
    } finally {
      roomScanning = false;
    }
  }

  async function start() {
    await PM.syncClock();
    if (!(await heartbeat())) return;
    if (!plan.consented) { window.location = `/exam/${examConfig.exam_id}/check`; return; }
    status();
    listen();
    if (page.reload) instant("page_reload", "the exam page was reloaded");
    if (plan.recording && plan.recording.enabled && window.ProctorRecorder) {
      recorder = new window.ProctorRecorder.Recorder(attemptId, P.csrf, plan.recording, {
        onState: recordingState,
        onEvent: (type, detail) => { if (!stopped) uploader.event(type, PM.serverNow(), 0, detail); },
      });
    }
    await startCamera();
    if (plan.screen_policy !== "off") {
      if (window.examScreen && window.examScreen.getVideoTracks().some((t) => t.readyState === "live")) useScreen(window.examScreen);
      else askScreen(M.share_again);
    }
    frame("interval");
    every(plan.frame_interval_s, () => frame("interval"));
    every(plan.screen_interval_s, () => screenshot("interval"));
    every(15, heartbeat);
    every(60, PM.syncClock);
    const full = $("capture-fullscreen");
    if (full && document.documentElement.requestFullscreen) {
      full.hidden = false;
      full.addEventListener("click", () => document.documentElement.requestFullscreen().catch(() => {}));
    }
  }

  start();
})();
