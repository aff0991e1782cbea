// The result page after a hand-in (issue 21; docs/proctoring.md §7): sends what the exam page's
// video recorder left queued in this browser when the page left (recorder.js's sendLeft); the
// server takes it for EXAM_RECORDING_TAIL_S after the end. A note is shown while chunks wait.
"use strict";
(function () {
  const config = document.getElementById("recording-tail-config");
  if (!config || !window.ProctorRecorder || !window.ProctorMedia) return;
  const { attempt_id: attemptId, csrf } = JSON.parse(config.textContent);
  const note = document.getElementById("recording-tail");
  window.ProctorRecorder.sendLeft(attemptId, csrf, (state) => {
    if (!note) return;
    note.hidden = state !== "offline";
    note.dataset.state = state;
  });
})();
