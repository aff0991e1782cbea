// The proctored part of the pre-exam check, run when the student presses "Continue to the exam":
// screen share first (getDisplayMedia needs the click's user activation), then the attempt is
// started *in its checks* (no clock yet), consent recorded, a camera frame checked for a face by the
// server, the enrolment photo taken (or the administrator's reference used) and checked, the room
// scanned when the exam asks for it at start; then the server verifies all of it and starts the
// clock ("begin"). The exam page is then put in place of this one without a navigation, so the
// camera and the shared screen stay live.
"use strict";
window.ProctorCheck = (function () {
  const PM = window.ProctorMedia;
  const $ = (id) => document.getElementById(id);

  function steps() { return $("proctor-steps"); }

  function say(text, ok) {
    const li = document.createElement("li");
    li.textContent = text;
    if (ok !== undefined) li.dataset.ok = String(ok);
    steps().appendChild(li);
    return li;
  }

  async function enterExam(examId) {
    const url = `/exam/${examId}`;
    try {
      const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const main = doc.querySelector("main");
      if (!r.ok || r.redirected || !main || !doc.getElementById("exam-config")) throw new Error("no exam page");
      document.querySelector("main").replaceWith(document.adoptNode(main));
      const header = doc.querySelector("header.top");
      if (header) document.querySelector("header.top").replaceWith(document.adoptNode(header));
      document.title = doc.title;
      history.replaceState(null, "", url);
      const loaded = new Set([...document.scripts].map((s) => new URL(s.src, location.href).pathname));
      for (const s of doc.querySelectorAll("script[src]")) {
        if (loaded.has(new URL(s.getAttribute("src"), location.href).pathname)) continue;
        const el = document.createElement("script");
        el.src = s.getAttribute("src");
        el.async = false;  // exam.js, then the capture scripts, in the page's order
        document.body.appendChild(el);
      }
    } catch (e) {
      window.location = url;  // the exam page asks for the screen again
    }
  }

  async function waitForPhoto(call, attemptId) {
    for (let i = 0; i < 12; i++) {
      await new Promise((ok) => setTimeout(ok, 1000));
      const r = await call("GET", `${PM.BASE}${attemptId}/plan`);
      if (r.status === 200 && r.data.enrolment.state !== "pending") return r.data.enrolment;
    }
    return { state: "pending" };
  }

  async function cameraCheck(call, attemptId, video, CM, M) {
    const line = say(CM.step_camera);
    const frame = await PM.grab(video, 640, 0.9);
    if (!frame) { line.remove(); return CM.camera_no_face; }
    const r = await call("POST", `/api/v1/attempts/${attemptId}/camera-check`, frame, "image/jpeg");
    line.remove();
    if (r.status !== 200) return PM.fmt(M.error, { message: r.message });
    if (r.data.ok) { say(CM.camera_face_ok, true); return null; }
    return { several_faces: CM.camera_several_faces, dark: CM.camera_dark, covered: CM.camera_dark }[r.data.reason]
      || CM.camera_no_face;
  }

  async function run(config, button) {
    const P = config.proctoring, M = P.messages, S = P.settings, CM = config.messages;
    const call = (method, path, body, type) => PM.call(P.csrf, method, path, body, type);
    const fail = (text) => { say(text, false); button.hidden = false; };
    button.hidden = true;  // (check.js re-enables it every half second: hide it while the steps run)
    steps().replaceChildren();
    let screenNote = "";
    if (S.screen_policy !== "off" && !(window.examScreen && window.examScreen.active)) {
      const asking = say(M.step_screen);
      try {
        window.examScreen = (await PM.shareScreen()).stream;
        asking.textContent = M.screen_ok;
        asking.dataset.ok = "true";
      } catch (e) {
        const text = { unsupported: M.screen_unsupported, not_monitor: M.screen_not_monitor }[e.code] || M.screen_denied;
        asking.remove();
        if (S.screen_policy === "require") return fail(text);
        say(text + " " + M.screen_flagged, false);
        screenNote = e.code === "not_monitor" ? "shared surface: " + e.surface : "screen share " + e.code;
      }
    }
    say(M.step_start);
    await PM.syncClock();
    let r = await call("POST", `/api/v1/exams/${config.exam_id}/start`, {});
    if (r.status !== 200) return fail(PM.fmt(M.error, { message: r.message }));
    const attempt = r.data.attempt;
    if (attempt.status === "in_progress" || attempt.status === "paused") { await enterExam(config.exam_id); return; }
    if (attempt.status !== "checks") { window.location = `/attempt/${attempt.id}/result`; return; }
    r = await call("POST", `${PM.BASE}${attempt.id}/consent`, {
      consent: true, camera: true, microphone: true, screen_surface: window.examScreen ? "monitor" : "none" });
    if (r.status !== 200) return fail(PM.fmt(M.error, { message: r.message }));
    const plan = r.data;
    const uploader = new PM.Uploader(attempt.id, P.csrf);
    if (screenNote) uploader.event("screen_share_stopped", PM.serverNow(), 0, screenNote);
    const video = $("preview");
    const cameraFailure = await cameraCheck(call, attempt.id, video, CM, M);
    if (cameraFailure) return fail(cameraFailure);

    if (plan.enrolment.state !== "usable") {
      if (plan.enrolment.reference_available) {
        say(M.step_reference);
        r = await call("POST", `${PM.BASE}${attempt.id}/enrolment/reference`);
        if (r.status !== 200) return fail(PM.fmt(M.error, { message: r.message }));
      } else {
        say(M.step_photo);
        await new Promise((ok) => setTimeout(ok, 800));
        const photo = await PM.grab(video, 640, 0.9);
        if (!photo) return fail(PM.fmt(M.error, { message: "camera" }));
        const img = $("enrolment-photo");
        img.src = URL.createObjectURL(photo);
        img.hidden = false;
        if (!(await uploader.image("enrolment", photo, "enrolment"))) return fail(PM.fmt(M.error, { message: "photo" }));
      }
      const waiting = say(M.step_photo_wait);
      const verdict = await waitForPhoto(call, attempt.id);
      waiting.remove();
      if (verdict.state === "unusable") {
        const reason = M["reason_" + verdict.reason] || verdict.reason || "?";
        return fail(PM.fmt(M.photo_unusable, { reason }));
      }
      say(verdict.state === "usable" ? M.photo_ok : M.photo_later, verdict.state === "usable" ? true : undefined);
    }

    const scanned = "proctor-roomscan:" + attempt.id;
    if (plan.room_scan_at_start && !sessionStorage.getItem(scanned)) {
      const line = say(PM.fmt(M.step_room, { seconds: 6 }));
      const frames = await PM.roomScan(video, (left) => { line.textContent = PM.fmt(M.step_room, { seconds: left }); });
      if (frames.length && await uploader.roomScan(frames)) {
        sessionStorage.setItem(scanned, "1");
        line.textContent = M.room_ok;
        line.dataset.ok = "true";
      }
    }
    r = await call("POST", `/api/v1/attempts/${attempt.id}/begin`, {});
    if (r.status !== 200) return fail(r.message);
    say(CM.step_begin, true);
    await enterExam(config.exam_id);
  }

  return { run };
})();
