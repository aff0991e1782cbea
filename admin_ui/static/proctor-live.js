// The proctor's live dashboard: the rows are re-rendered by the server every 5 s (the same template
// as the first render: sorting, translations and dates stay on the server); the time left ticks
// every second from each attempt's deadline and the server's clock, never the local clock alone.
"use strict";
(function () {
  let offsetMs = 0;

  function measure() {
    const body = document.getElementById("live-rows");
    if (body && body.dataset.serverNow) offsetMs = Date.parse(body.dataset.serverNow) - Date.now();
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }

  function tick() {
    const now = Date.now() + offsetMs;
    document.querySelectorAll("#live-rows .remaining").forEach((el) => {
      el.textContent = clock((Date.parse(el.dataset.deadline) - now) / 1000);
    });
  }

  async function refresh() {
    try {
      const r = await fetch("/proctor/live/rows", { credentials: "same-origin", cache: "no-store" });
      if (r.status !== 200) return;
      const doc = new DOMParser().parseFromString(`<table>${await r.text()}</table>`, "text/html");
      const fresh = doc.getElementById("live-rows");
      const current = document.getElementById("live-rows");
      if (fresh && current) current.replaceWith(document.adoptNode(fresh));
      measure();
      tick();
    } catch (e) { /* offline: the next round tries again */ }
  }

  measure();
  setInterval(tick, 1000);
  setInterval(refresh, 5000);
})();
