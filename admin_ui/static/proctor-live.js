// The proctor's live dashboard: the rows are re-rendered by the server every 5 s (the same template
// as the first render: sorting, translations and dates stay on the server); the time left ticks
// every second from each attempt's deadline and the server's clock, counted on with the browser's
// monotonic clock (performance.now) — the computer's clock is never read for it. A jump between the
// two clocks (a laptop waking, a clock set by hand) refreshes the rows at once.
"use strict";
(function () {
  let syncServerMs = null, syncMono = 0;

  function measure(arrived) {
    const body = document.getElementById("live-rows");
    if (!body || !body.dataset.serverNow) return;
    const t = Date.parse(body.dataset.serverNow);
    if (!Number.isNaN(t)) { syncServerMs = t; syncMono = arrived; }
  }
  const serverNow = () => (syncServerMs === null ? Date.now() : syncServerMs + (performance.now() - syncMono));

  let lastWall = Date.now(), lastMono = performance.now();
  function clockJumped() {
    const wall = Date.now(), mono = performance.now();
    const jumped = Math.abs((wall - lastWall) - (mono - lastMono)) > 2000 || mono - lastMono > 5000;
    lastWall = wall;
    lastMono = mono;
    return jumped;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }

  function tick() {
    if (clockJumped()) refresh();
    const now = serverNow();
    document.querySelectorAll("#live-rows .remaining").forEach((el) => {
      el.textContent = clock((Date.parse(el.dataset.deadline) - now) / 1000);
    });
  }

  let refreshing = false;  // one refresh at a time
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const r = await fetch("/proctor/live/rows", { credentials: "same-origin", cache: "no-store" });
      const arrived = performance.now();
      if (r.status !== 200) return;
      const doc = new DOMParser().parseFromString(`<table>${await r.text()}</table>`, "text/html");
      const fresh = doc.getElementById("live-rows");
      const current = document.getElementById("live-rows");
      if (fresh && current) current.replaceWith(document.adoptNode(fresh));
      measure(arrived);
      tick();
    } catch (e) { /* offline: the next round tries again */ } finally {
      refreshing = false;
    }
  }

  const nav = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
  measure(nav && nav.responseStart > 0 ? nav.responseStart : performance.now());
  setInterval(tick, 1000);
  setInterval(refresh, 5000);
})();
