// Pre-exam check: the camera must show a picture (not black), the microphone must give a signal,
// and the student must consent, before the exam page opens.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("check-config").textContent);
  const M = config.messages;
  const $ = (id) => document.getElementById(id);
  let cameraOk = false, micOk = false;

  function update() {
    $("continue").disabled = !(cameraOk && micOk && $("consent").checked);
  }

  async function run() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    } catch (e) {
      const name = e && e.name;
      if (name === "NotReadableError" || name === "AbortError") {
        $("camera-state").textContent = M.media_busy;
        $("mic-state").textContent = "";
      } else if (name === "NotFoundError" || name === "OverconstrainedError") {
        $("camera-state").textContent = M.media_missing;
        $("mic-state").textContent = "";
      } else {
        $("camera-state").textContent = M.camera_denied;
        $("mic-state").textContent = M.mic_denied;
      }
      return;
    }
    window.examMedia = stream;  // kept for the exam page's capture in this tab
    const video = $("preview");
    video.srcObject = stream;
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 48;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const cameraTimer = setInterval(() => {
      if (video.readyState < 2) return;
      ctx.drawImage(video, 0, 0, 64, 48);
      const px = ctx.getImageData(0, 0, 64, 48).data;
      let sum = 0;
      for (let i = 0; i < px.length; i += 4) sum += (px[i] + px[i + 1] + px[i + 2]) / 3;
      const brightness = sum / (px.length / 4);
      cameraOk = brightness > 20;
      $("camera-state").textContent = cameraOk ? M.camera_ok : M.camera_dark;
      $("camera-state").dataset.ok = String(cameraOk);
      update();
      if (cameraOk) clearInterval(cameraTimer);
    }, 300);
    const audio = new AudioContext();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 2048;
    audio.createMediaStreamSource(stream).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const micTimer = setInterval(() => {
      if (!$("mic-level")) return clearInterval(micTimer);  // the exam page has taken this one's place
      analyser.getFloatTimeDomainData(buf);
      let sq = 0;
      for (const v of buf) sq += v * v;
      const dbfs = 20 * Math.log10(Math.sqrt(sq / buf.length) || 1e-9);
      $("mic-level").value = Math.max(-90, dbfs);
      const tracks = stream.getAudioTracks();
      micOk = tracks.length > 0 && tracks[0].readyState === "live";
      $("mic-state").textContent = micOk ? M.mic_ok : M.mic_denied;
      $("mic-state").dataset.ok = String(micOk);
      update();
    }, 500);
  }

  $("consent").addEventListener("change", update);
  $("continue").addEventListener("click", () => {
    // A proctored exam runs its own steps first (proctor-check.js), then opens the exam in place.
    if (config.proctoring && window.ProctorCheck) window.ProctorCheck.run(config, $("continue"));
    else window.location = `/exam/${config.exam_id}`;
  });
  run();
})();
