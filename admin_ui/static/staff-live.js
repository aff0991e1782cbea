// The exam-day page: the rows are re-rendered by the server every few seconds (the same template as
// the first render: states, names and translations stay on the server); the time left ticks every
// second from each attempt's deadline and the server's clock. An action link opens its form in a
// dialog (the same form as the link's own page, which works without script).
// The time left is counted from the server's time by live-clock.js (loaded first), never from the
// computer's clock; a jump between the two clocks (a laptop waking) refreshes the rows at once.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("live-config").textContent);
  const updated = document.getElementById("live-updated");  // not a live region: no announcement every 5 s
  const offline = document.getElementById("live-offline");  // an alert, said once when the connection fails
  const clock = window.LiveClock;

  function tick() {
    if (clock.jumped()) refresh();
    const now = clock.now();
    document.querySelectorAll("#live-rows .remaining:not([data-paused])").forEach((el) => {
      el.textContent = clock.format((Date.parse(el.dataset.deadline) - now) / 1000);
    });
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (all, key) => (key in values ? values[key] : all));
  }

  let refreshing = false;  // one refresh at a time (the interval and a clock jump may meet)
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const r = await fetch(`/proctor/live/${config.exam_id}/rows`, { credentials: "same-origin", cache: "no-store" });
      const arrived = performance.now();
      if (r.status !== 200) throw new Error(String(r.status));
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("live-rows");
      const current = document.getElementById("live-rows");
      if (fresh && current) {
        // A picture already shown is kept, not fetched again: evidence is never cached (no-store), and
        // every fetch is an audited view; a new frame has a new address and is fetched once.
        const shown = new Map();
        current.querySelectorAll("img.live-thumb").forEach((img) => shown.set(img.getAttribute("src"), img));
        const adopted = document.adoptNode(fresh);
        adopted.querySelectorAll("img.live-thumb").forEach((img) => {
          const old = shown.get(img.getAttribute("src"));
          if (old) img.replaceWith(old);
        });
        // Keyboard focus on a row's link survives the refresh (the same link in the new rows takes it).
        const focused = current.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
        current.replaceWith(adopted);
        if (focused) {
          const again = Array.from(adopted.querySelectorAll("a[href]")).find((a) => a.getAttribute("href") === focused);
          if (again) again.focus();
        }
      }
      clock.measure(arrived);
      tick();
      const time = new Date(clock.now()).toLocaleTimeString(config.language, { timeZone: config.time_zone, hour12: false });
      updated.textContent = fill(config.messages.refreshed, { time });
      offline.textContent = "";
    } catch (e) {
      if (offline.textContent !== config.messages.offline) offline.textContent = config.messages.offline;
    } finally {
      refreshing = false;
    }
  }

  const dialog = document.getElementById("action-dialog");
  const form = document.getElementById("action-form");
  let opener = null;  // the address of the action link that opened the dialog
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-action]");
    if (!link || !dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    const spec = config.actions[link.dataset.action];
    form.action = link.getAttribute("href");
    document.getElementById("action-h").textContent = spec.title;
    document.getElementById("action-student").textContent = link.dataset.studentName;
    document.getElementById("action-hint").textContent = spec.hint;
    document.getElementById("action-submit").textContent = spec.title;
    const minutes = document.getElementById("action-minutes-field");
    minutes.hidden = link.dataset.action !== "extra-time";
    document.getElementById("action-minutes").disabled = minutes.hidden;
    // The deadline this row showed: a grant counts only on it, so a double click grants once.
    document.getElementById("action-deadline").value = link.dataset.deadline || "";
    document.getElementById("action-reason").value = "";
    opener = link.getAttribute("href");
    dialog.showModal();
    document.getElementById("action-reason").focus();
  });
  document.getElementById("action-cancel").addEventListener("click", () => dialog.close());
  // Closing the dialog gives the focus back to its action link. The rows were re-rendered meanwhile
  // (every few seconds), so the link that opened it is gone: the browser dropped the focus on the
  // page's body and a keyboard user started over from the top. The same link in the new rows takes it.
  if (dialog) dialog.addEventListener("close", () => {
    const again = opener && Array.from(document.querySelectorAll("#live-rows a[data-action]"))
      .find((a) => a.getAttribute("href") === opener);
    if (again && document.activeElement !== again) again.focus();
  });

  clock.measurePage();
  setInterval(tick, 1000);
  setInterval(refresh, config.refresh_ms);
})();
