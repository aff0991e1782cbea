// The result page after a hand-in (issue 21; docs/proctoring.md §7): sends what the exam page's
// video recorder left queued in this browser when the page left (recorder.js's sendLeft); the
// server takes it for EXAM_RECORDING_TAIL_S after the end. While chunks wait the note says what is
// being sent: the last seconds of the recording, or a part the exam page could not send (a page
// offline from its load, whose part this page opens; or more than the last seconds). Once all of
// it is stored the note says so; when the server refused some of it, the note goes.
"use strict";
(function () {
  const config = document.getElementById("recording-tail-config");
  if (!config || !window.ProctorRecorder || !window.ProctorMedia) return;
  const { attempt_id: attemptId, csrf } = JSON.parse(config.textContent);
  const note = document.getElementById("recording-tail");
  let sending = false;
  function say(which) {
    note.hidden = false;
    note.dataset.message = which;
    for (const line of note.querySelectorAll("[data-message]")) line.hidden = line.dataset.message !== which;
  }
  window.ProctorRecorder.sendLeft(attemptId, csrf, (state, seconds, left) => {
    if (!note) return;
    note.dataset.state = state;
    if (state === "offline") {
      sending = true;
      say(left && left.whole ? "part" : "last");
    } else if (state === "sent" && sending && !(left && left.refused)) {
      say("done");
    } else {
      note.hidden = true;
    }
  });
})();
