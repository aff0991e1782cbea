// The proctor's timeline page: the recording's player (issue 21). A flag's "play" button shows its
// moment: the server mapped the flag's time to a part (segment) of the recording and an offset in it.
// The video is served by byte range from the audited, authenticated recording endpoint.
"use strict";
(function () {
  const player = document.getElementById("player");
  const video = document.getElementById("recording");
  if (!player || !video) return;
  const status = document.getElementById("recording-at");
  const fmt = (text, params) => text.replace(/\{(\w+)\}/g, (_, k) => (k in params ? params[k] : "{" + k + "}"));
  const clock = (s) => { s = Math.max(0, Math.floor(s)); const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`; };
  const buttons = Array.from(document.querySelectorAll("button.segment"));

  function choose(segment) {
    const button = buttons.find((b) => b.dataset.segment === String(segment));
    if (!button) return false;
    buttons.forEach((b) => b.setAttribute("aria-pressed", b === button ? "true" : "false"));
    if (video.dataset.segment !== String(segment)) {
      video.dataset.segment = String(segment);
      video.src = button.dataset.url;
    }
    return true;
  }

  // Seek once the video can: a MediaRecorder WebM has no index, so the browser reads up to the moment.
  function playAt(segment, offset, label) {
    if (!choose(segment)) return;
    const go = () => {
      video.currentTime = offset;
      video.play().catch(() => { /* the proctor presses play */ });
      status.textContent = fmt(player.dataset.msgPlaying, { n: segment, time: label || clock(offset) });
    };
    if (video.readyState >= 1) go(); else video.addEventListener("loadedmetadata", go, { once: true });
    video.scrollIntoView({ block: "nearest" });
  }

  buttons.forEach((b) => b.addEventListener("click", () => { choose(b.dataset.segment); video.play().catch(() => {}); }));
  document.querySelectorAll("button.play-at").forEach((b) => b.addEventListener("click", () =>
    playAt(Number(b.dataset.segment), Number(b.dataset.offset), b.dataset.label)));
  // The browser's own reason («DEMUXER_ERROR_COULD_NOT_OPEN: FFmpegDemuxer…») is English and a code:
  // the page says it in the proctor's words, by the kind of failure; the browser's text goes to the console.
  video.addEventListener("error", () => {
    const code = video.error && video.error.code;
    if (video.error) console.warn("recording playback failed", code, video.error.message);
    const reason = code === 2 ? player.dataset.reasonNetwork : code === 3 ? player.dataset.reasonDecode : player.dataset.reasonOpen;
    status.textContent = fmt(player.dataset.msgError, { reason });
  });
})();
