// The proctor's live dashboard: the rows are re-rendered by the server every 5 s (the same template
// as the first render: sorting, translations and dates stay on the server); the time left ticks
// every second from each attempt's deadline and the server's clock (live-clock.js, loaded first) —
// the computer's clock is never read for it. A jump between the two clocks (a laptop waking, a clock
// set by hand) refreshes the rows at once.
"use strict";
(function () {
  const clock = window.LiveClock;

  function tick() {
    if (clock.jumped()) refresh();
    const now = clock.now();
    document.querySelectorAll("#live-rows .remaining").forEach((el) => {
      el.textContent = clock.format((Date.parse(el.dataset.deadline) - now) / 1000);
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
      clock.measure(arrived);
      tick();
    } catch (e) { /* offline: the next round tries again */ } finally {
      refreshing = false;
    }
  }

  clock.measurePage();
  setInterval(tick, 1000);
  setInterval(refresh, 5000);
})();
