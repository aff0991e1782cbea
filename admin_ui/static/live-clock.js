// The live pages' clock (staff-live.js, proctor-live.js): the server's time, taken from the rows'
// data-server-now when they arrive, counted on with the browser's monotonic clock (performance.now),
// as on the student's exam page — the computer's clock (set wrong, or changed while the Wi-Fi is
// down) is never read for the time left. jumped() tells a page when the two clocks part (a laptop
// waking, a clock set by hand), so it refreshes its rows at once.
"use strict";
window.LiveClock = (function () {
  let syncServerMs = null, syncMono = 0;
  let lastWall = Date.now(), lastMono = performance.now();
  return {
    // arrived: performance.now() when the rows' response arrived.
    measure(arrived) {
      const rows = document.getElementById("live-rows");
      if (!rows || !rows.dataset.serverNow) return;
      const t = Date.parse(rows.dataset.serverNow);
      if (!Number.isNaN(t)) { syncServerMs = t; syncMono = arrived; }
    },
    // The page's own rows arrived with the page: its navigation timing.
    measurePage() {
      const nav = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
      this.measure(nav && nav.responseStart > 0 ? nav.responseStart : performance.now());
    },
    now() { return syncServerMs === null ? Date.now() : syncServerMs + (performance.now() - syncMono); },
    jumped() {
      const wall = Date.now(), mono = performance.now();
      const jumped = Math.abs((wall - lastWall) - (mono - lastMono)) > 2000 || mono - lastMono > 5000;
      lastWall = wall;
      lastMono = mono;
      return jumped;
    },
    // Seconds as h:mm:ss, or m:ss under an hour.
    format(seconds) {
      const s = Math.max(0, Math.floor(seconds));
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(sec).padStart(2, "0");
    },
  };
})();
