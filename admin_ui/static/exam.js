// The exam page. The server owns the clock and the result; this page only shows them.
// - Remaining time = deadline_at - the server's time, counted on from the server's last answer with the
//   browser's monotonic clock (performance.now): the computer's clock, however wrong or changed during
//   the exam, is never read for it. A jump between the two clocks (a clock set by hand, a laptop
//   waking from sleep) or a page that was frozen makes the page ask the server at once.
// - Every answer is its own request with a growing sequence number. Answers wait in a queue
//   (kept in localStorage, so a reload loses nothing) until the server's receipt arrives.
// - When time runs out the queue is flushed and the attempt handed in; the server would
//   finalise it at the deadline anyway.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("exam-config").textContent);
  const M = config.messages;
  const $ = (id) => document.getElementById(id);
  const fmt = (text, params) => text.replace(/\{(\w+)\}/g, (_, k) => (k in params ? params[k] : "{" + k + "}"));

  let attempt = null;          // summary from the server
  let questions = [];          // [{position, text, options, choice}]
  let current = 0;             // index into questions
  let syncServerMs = null;     // the server's time at its last answer…
  let syncMono = 0;            // …and performance.now() then
  let seq = 0;                 // last sequence number used
  let queue = {};              // position -> {choice, seq}
  let lastReceipt = null;
  let flushing = null;         // the running flush (a promise), if any
  let handInFailed = false;    // a hand-in did not reach the server: say so until it does
  let retryDelay = 1000;
  let finished = false;
  const warned = new Set();   // warning bands already shown (seconds: 300, 60)
  const lateLost = new Map();  // position -> the waiting choice the server refused: the attempt had ended
  let lateCode = "";           // the refusal's code (deadline_passed, attempt_finished)

  const storeKey = () => "exam-queue:" + attempt.id;
  const posKey = () => "exam-position:" + attempt.id;  // the question on screen, kept across a reload

  async function api(method, path, body) {
    const response = await fetch("/api/v1" + path, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data, retryAfter: Number(response.headers.get("Retry-After")) || 0 };
  }

  // Answers that say "try again": the server's bounded wait ran out (503 server_busy), a proxy found no
  // worker (502, 504: a restart), the body did not arrive (408), the session's request budget (429).
  // The whole queue waits (every answer would meet the same), sent again with back-off.
  const AGAIN = (status) => status === 502 || status === 503 || status === 504 || status === 408 || status === 429;
  // Any other 5xx (500: a fault of the server with this one answer) is not known to pass: that answer is
  // tried SERVER_ERROR_TRIES times in all, 1 s, 2 s, 4 s apart, while the answers after it go on; then
  // the student is told which answer the server could not save (call the proctor). Before, every 5xx
  // was retried forever, first in the queue: one answer the server always failed held every later one.
  const SERVER_ERROR = (status) => status >= 500 && !AGAIN(status);
  const SERVER_ERROR_TRIES = 4;
  const failing = {};          // position -> {seq, tries, until}: an answer that met a server error

  // sentAt: Date.now() when the request left (the callers' unit); only the round trip's length is taken
  // from it, and only when it is plausible (the computer's clock may have jumped meanwhile).
  function syncClock(serverNowIso, sentAt) {
    const received = performance.now();
    const trip = sentAt === undefined ? 0 : Date.now() - sentAt;
    syncServerMs = Date.parse(serverNowIso);
    syncMono = trip > 0 && trip < 30000 ? received - trip / 2 : received;
  }

  const serverNow = () => (syncServerMs === null ? Date.now() : syncServerMs + (performance.now() - syncMono));

  // Every tab of this attempt in this browser shares the store below: the exam left open in an old tab
  // and opened again in a new one. The sequence number is taken from it at each click, so the last
  // click in any tab has the highest number and is the answer the server keeps (each tab counting on
  // its own, a click in the tab that had counted less was answered "saved" and not stored).
  const acked = {};            // position -> highest sequence number the server has answered for
  function stored() {
    try { return JSON.parse(localStorage.getItem(storeKey()) || "null") || {}; } catch (e) { return {}; }
  }

  function nextSeq() {
    seq = Math.max(seq, Number(stored().seq) || 0) + 1;
    return seq;
  }

  function persistQueue() {
    // Another tab's answers still waiting for their receipt stay in the store (a reload of that tab
    // sends them); what this tab knows the server has answered for is left out.
    const saved = stored();
    const all = { ...queue };
    for (const [pos, item] of Object.entries(saved.queue || {})) {
      if (item && item.seq > (acked[pos] || 0) && (!all[pos] || all[pos].seq < item.seq)) all[pos] = item;
    }
    const top = Math.max(seq, Number(saved.seq) || 0);
    try { localStorage.setItem(storeKey(), JSON.stringify({ seq: top, queue: all })); } catch (e) { /* private mode */ }
  }

  function restoreQueue() {
    try {
      const saved = JSON.parse(localStorage.getItem(storeKey()) || "null");
      if (saved) {
        seq = Math.max(seq, saved.seq || 0);
        for (const [pos, item] of Object.entries(saved.queue || {})) {
          const q = questions.find((x) => x.position === Number(pos));
          if (q && (q.seq === null || q.seq < item.seq)) { queue[pos] = item; q.choice = item.choice; }
        }
      }
    } catch (e) { /* ignore a corrupt entry */ }
  }

  function pendingCount() { return Object.keys(queue).length; }

  function showSaveState(offline, busy) {
    const el = $("save-status");
    el.classList.toggle("offline", !!offline);
    el.classList.toggle("pending", !offline && pendingCount() > 0);
    if (offline) {
      el.textContent = fmt(busy ? M.busy : M.waiting, { count: pendingCount() });
    } else if (pendingCount() > 0) {
      el.textContent = M.saving;
    } else if (notSaved.size) {  // never "all saved" while an answer the server failed is not
      el.classList.add("offline");
      el.textContent = fmt(M.not_saved_short, { number: [...notSaved].sort((a, b) => a - b).join(", ") });
    } else if (lastReceipt) {
      const t = new Date(lastReceipt.saved_at).toLocaleTimeString(config.language, { timeZone: config.time_zone, hour12: false });
      el.textContent = fmt(M.saved_at, { time: t, seq: lastReceipt.seq });
    } else if (questions.some((q) => q.seq !== null && q.seq !== undefined)) {
      el.textContent = M.all_saved;  // after a reload: the server holds every answer given so far
    } else {
      el.textContent = "";
    }
  }

  // One flush at a time; a caller arriving while one runs waits for that one (the hand-in must
  // know whether the answers went, not merely that a send was under way).
  function flush() {
    if (!flushing) flushing = sendQueued().finally(() => { flushing = null; });
    return flushing;
  }

  // The next answer to send: the first in the queue not waiting out its back-off after a server error.
  function nextToSend() {
    const now = Date.now();
    return Object.entries(queue).find(([pos, item]) => {
      const f = failing[pos];
      return !(f && f.seq === item.seq && f.until > now);
    });
  }

  function serverError(pos, item) {
    const f = failing[pos] && failing[pos].seq === item.seq ? failing[pos] : { seq: item.seq, tries: 0 };
    f.tries += 1;
    if (f.tries < SERVER_ERROR_TRIES) {
      f.until = Date.now() + 1000 * 2 ** (f.tries - 1);
      failing[pos] = f;
      setTimeout(flush, f.until - Date.now() + 20);
      return;
    }
    // Given up: the answer leaves the queue (the later ones are not held behind it) and the student
    // is told which one the server did not save; choosing it again sends it anew.
    delete failing[pos];
    delete queue[pos];
    acked[pos] = Math.max(acked[pos] || 0, item.seq);
    persistQueue();
    notSaved.add(Number(pos));
    // The screen shows what the server holds for that question (its last saved answer, or none), so
    // the student sees it is not saved and can choose it again.
    const q = questions.find((x) => x.position === Number(pos));
    if (q) {
      q.choice = pos in serverChoice ? serverChoice[pos] : null;
      if (questions[current] === q) show(current, false); else renderMap();
    }
    showNotSaved();
    showSaveState(false);
  }

  const serverChoice = {};     // position -> the answer the server last confirmed it holds
  const notSaved = new Set();  // questions whose last answer the server could not save
  function showNotSaved() {
    if (!notSaved.size) return;
    const numbers = [...notSaved].sort((a, b) => a - b).join(", ");
    $("alert").textContent = fmt(M.not_saved, { number: numbers });
  }

  async function sendQueued() {
    let sent = false;
    while (pendingCount() > 0) {
      const next = nextToSend();
      if (!next) break;  // the rest wait out their back-off (a timer sends them)
      const [pos, item] = next;
      let result;
      try {
        const sentAt = Date.now();
        result = await api("PUT", `/attempts/${attempt.id}/answers/${pos}`, { choice: item.choice, seq: item.seq });
        if (result.data && result.data.server_now) syncClock(result.data.server_now, sentAt);
      } catch (e) {
        showSaveState(true);
        setTimeout(flush, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 5000);
        return;
      }
      if (AGAIN(result.status)) {
        // Not stored, and not refused for good (the server's bounded wait for the database answers
        // 503, a proxy 502): the answer stays queued and goes again. It was dropped as if refused.
        showSaveState(true, true);
        setTimeout(flush, result.retryAfter > 0 ? Math.min(result.retryAfter, 30) * 1000 : retryDelay);
        retryDelay = Math.min(retryDelay * 2, 5000);
        return;
      }
      retryDelay = 1000;
      if (SERVER_ERROR(result.status)) {
        serverError(pos, item);
        continue;
      }
      if (result.status === 200) {
        sent = true;
        delete failing[pos];
        if (result.data.seq >= (acked[pos] || 0)) serverChoice[pos] = result.data.choice;
        if (notSaved.delete(Number(pos))) {
          $("alert").textContent = "";
          showNotSaved();
        }
        lastReceipt = result.data;
        acked[pos] = Math.max(acked[pos] || 0, result.data.seq);
        if (queue[pos] && queue[pos].seq <= result.data.seq) delete queue[pos];
        if (!result.data.applied && result.data.seq > item.seq) adopt(Number(pos), result.data);
        persistQueue();
        showSaveState(false);
      } else if (result.status === 409 && result.data && result.data.error &&
                 result.data.error.code === "attempt_paused") {
        // Paused by the proctor: keep the answer queued; it goes when the attempt resumes.
        setPaused(true);
        return;
      } else if (result.status === 409 && result.data && result.data.error &&
                 result.data.error.code === "attempt_open_elsewhere") {
        $("alert").textContent = result.data.error.message;
        finished = true;
        document.querySelectorAll("#exam input, #exam button").forEach((el) => (el.disabled = true));
        return;
      } else if (result.status === 409 || result.status === 404) {
        // Finished or the deadline passed: nothing more will be accepted. What still waited (a laptop
        // asleep past the deadline) is NOT saved: the page names those questions (never a silent loss).
        for (const [p, item] of Object.entries(queue)) lateLost.set(Number(p), item.choice);
        lateCode = (result.data && result.data.error && result.data.error.code) || "";
        queue = {};
        persistQueue();
        return finish(true);
      } else if (result.status === 401) {
        return sessionLost();
      } else {
        delete queue[pos];  // a 422 will not get better by resending (AGAIN above: what may)
        acked[pos] = Math.max(acked[pos] || 0, item.seq);
        persistQueue();
        $("alert").textContent = fmt(M.error, { message: (result.data && result.data.error && result.data.error.message) || result.status });
      }
    }
    if (sent && pendingCount() === 0) reachedServer();
  }

  // The server keeps a later answer than this tab's (clicked in another tab): the page shows it.
  function adopt(position, receipt) {
    const q = questions.find((x) => x.position === position);
    if (!q || queue[position]) return;
    q.choice = receipt.choice;
    q.seq = receipt.seq;
    if (questions[current] === q) show(current, false); else renderMap();
  }

  function choose(position, choice) {
    const q = questions.find((x) => x.position === position);
    q.choice = choice;
    queue[position] = { choice, seq: nextSeq() };
    persistQueue();
    renderMap();
    showSaveState(false);
    flush();
  }

  function renderMap() {
    const ol = $("qmap");
    ol.replaceChildren();
    questions.forEach((q, i) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = String(i + 1);
      const answered = q.choice !== null && q.choice !== undefined;
      b.classList.toggle("answered", answered);
      b.setAttribute("aria-label", fmt(M.question_label, { n: i + 1, state: answered ? M.answered : M.unanswered }));
      if (i === current) b.setAttribute("aria-current", "step");
      b.disabled = finished;
      b.addEventListener("click", () => show(i, true));
      li.appendChild(b);
      ol.appendChild(li);
    });
  }

  function show(index, focus) {
    current = Math.max(0, Math.min(questions.length - 1, index));
    try { sessionStorage.setItem(posKey(), String(current)); } catch (e) { /* private mode */ }
    const q = questions[current];
    $("q-title").textContent = fmt(M.question_of, { n: current + 1, total: questions.length });
    $("q-text").textContent = q.text;
    $("q-legend").textContent = q.text;
    const fs = $("q-options");
    fs.querySelectorAll(".option").forEach((n) => n.remove());
    q.options.forEach((text, i) => {
      const label = document.createElement("label");
      label.className = "option";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "q" + q.position;
      input.value = String(i);
      input.checked = q.choice === i;
      input.disabled = finished || paused;  // a question moved to after the end or during a pause stays locked
      input.addEventListener("change", () => choose(q.position, i));
      const span = document.createElement("span");
      span.textContent = text;
      label.append(input, span);
      fs.appendChild(label);
    });
    $("prev").disabled = current === 0;
    $("next").disabled = current === questions.length - 1;
    renderMap();
    if (focus) focusTitle();
  }

  // The time bar stays on top of the screen (sticky): the question's title, where the focus goes,
  // must come to rest below it, not under it (a phone scrolled down to «Next» hid it).
  function focusTitle() { focusBelowBar($("q-title")); }

  function focusBelowBar(el) {
    el.focus({ preventScroll: true });
    const barBottom = document.querySelector(".exam-bar").getBoundingClientRect().bottom;
    const top = el.getBoundingClientRect().top;
    if (top < barBottom + 8 || top > window.innerHeight - 48) window.scrollBy(0, top - barBottom - 8);
  }

  // What answers the student's own press (a refused hand-in) is brought into view: on a phone
  // scrolled down to «Hand in» the message box above the questions was out of sight.
  function tell(text) {
    $("alert").textContent = text;
    focusBelowBar($("alert"));
  }

  let paused = false;
  function setPaused(on) {
    if (paused === on) return;
    paused = on;
    // The answers are locked while paused: a student scrolled down on a phone, tapping an option that
    // does nothing, is shown why (the message box was above, out of sight).
    if (on) tell(M.paused);
    else $("alert").textContent = "";
    document.querySelectorAll("#q-options input").forEach((el) => (el.disabled = on));
    if (!on) flush();
  }

  // A laptop asleep, a frozen tab, the computer's clock set by hand: the browser's two clocks disagree
  // (or the page's timers stood still). The page then asks the server for the time and the attempt's
  // state and sends what waits, at once (not at the next 30 s resync).
  let lastWall = Date.now(), lastMono = performance.now(), waking = null;
  function clockJumped() {
    const wall = Date.now(), mono = performance.now();
    const jumped = Math.abs((wall - lastWall) - (mono - lastMono)) > 2000 || mono - lastMono > 5000;
    lastWall = wall;
    lastMono = mono;
    return jumped;
  }

  function wake() {
    if (!waking) {
      waking = Promise.all([resync(), presence()]).finally(() => { waking = null; });
      if (pendingCount() > 0) flush();
    }
    return waking;
  }

  // Set the remaining-time warning in the sticky bar too: on a phone scrolled down to the last
  // questions the message box above them is out of sight (the box, a live region, says it once).
  function barWarning(text) {
    const el = $("time-warning");
    el.textContent = text;
    el.hidden = !text;
  }

  let confirming = false;
  function tick() {
    if (finished || !attempt) return;
    if (clockJumped()) wake();
    if (paused) return;  // the server stopped this attempt's clock
    const left = Math.max(0, Date.parse(attempt.deadline_at) - serverNow());
    const s = Math.ceil(left / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    $("remaining").textContent = (h > 0 ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(sec).padStart(2, "0");
    document.querySelector(".timer").classList.toggle("low", s <= 300);
    // The same rule as the server's time_warning: the narrowest band the real time left is in, said
    // with the real minutes (2:43 left → "3 min"), each band once; the first one shown is where we are.
    const band = (config.warn_at_s || [300, 60]).slice().sort((a, b) => a - b).find((t) => s <= t);
    if (band !== undefined && s > 0 && !warned.has(band)) {
      warned.add(band);
      const text = attempt.timeout_policy === "grade_saved" ? M.warn_grade_saved : M.warn_unsatisfactory;
      $("alert").textContent = fmt(text, { minutes: Math.ceil(s / 60) });
      $("alert").dataset.band = String(band);
      barWarning(fmt(M.warn_short, { minutes: Math.ceil(s / 60) }));
    }
    if (left <= 0 && !confirming) {
      // The server's word before «time is up»: one answer of /time (offline: the page's own count).
      confirming = true;
      (waking || resync()).finally(() => {
        confirming = false;
        if (!finished && !paused && Date.parse(attempt.deadline_at) - serverNow() <= 0) finish(false);
      });
    }
  }

  // The session ended (expired, signed out in another tab, the server's sessions lost): the page
  // stays, the answers stay queued in this browser, and the student is told to sign in again and
  // given the way back to this exam, where the queued answers are sent.
  let sessionGone = false;
  function sessionLost() {
    if (finished) return;
    persistQueue();
    const status = $("save-status");
    status.className = "save-status offline";
    status.textContent = fmt(M.waiting_sign_in, { count: pendingCount() });
    if (sessionGone) return;
    sessionGone = true;
    const box = $("alert");
    box.textContent = M.session_lost + " ";
    const a = document.createElement("a");
    a.href = "/login?next=" + encodeURIComponent(window.location.pathname);
    a.id = "sign-in-again";
    a.textContent = M.sign_in_again;
    box.appendChild(a);
    focusBelowBar(box);
  }

  // The page's other scripts (the proctoring's video recorder) finish before the page leaves: the
  // recording's last seconds are queued and sent. Bounded: a hand-in never waits more than
  // LEAVE_WAIT_MS for them (what is not sent by then stays queued in the browser).
  const LEAVE_WAIT_MS = 5000;
  let leaving = null;
  function beforeLeave() {
    if (!leaving) {
      const hooks = (window.examBeforeLeave || []).map((f) => {
        try { return Promise.resolve(f()); } catch (e) { return Promise.resolve(); }
      });
      leaving = Promise.race([Promise.allSettled(hooks), new Promise((ok) => setTimeout(ok, LEAVE_WAIT_MS))]);
    }
    return leaving;
  }

  async function finish(alreadyClosed) {
    if (finished) return;
    finished = true;
    barWarning("");
    beforeLeave();  // the recording ends with the exam; it is sent while the page waits below
    $("alert").textContent = attempt.timeout_policy === "grade_saved" ? M.time_up_grade_saved : M.time_up_unsatisfactory;
    $("remaining").textContent = "0:00";
    document.querySelectorAll("#exam input, #exam button").forEach((el) => (el.disabled = true));
    if (!alreadyClosed) {
      // Send what is still queued (the server accepts it within its network grace), then let the
      // server close the attempt at its deadline: running out of time is not a hand-in (E1).
      await flush();
      for (let i = 0; i < 60; i++) {
        await new Promise((ok) => setTimeout(ok, 1000));
        try {
          const r = await api("GET", `/attempts/${attempt.id}`);
          if (r.status !== 200 || r.data.attempt.status !== "in_progress") break;
        } catch (e) {
          await untilServerAnswers();  // offline: the server closes it at the deadline anyway
        }
      }
    }
    await untilServerAnswers();
    // What still waits goes now: the server answers each (its refusal names it in lateLost); what it
    // did not take (no connection again) was not saved either.
    if (pendingCount() > 0) await flush();
    for (const [p, item] of Object.entries(queue)) lateLost.set(Number(p), item.choice);
    queue = {};
    try { localStorage.removeItem(storeKey()); sessionStorage.removeItem(posKey()); } catch (e) { /* ignore */ }
    await beforeLeave();
    if (lateLost.size) return showLateLost();
    window.location = `/attempt/${attempt.id}/result`;
  }

  // Answers the server refused because they reached it after the deadline (or after the attempt had
  // ended): the page stays, names the questions, and the result is one press away. The server's
  // verdict stands; the page only says which of the student's last choices it never received.
  async function showLateLost() {
    // The server's word on what it holds: an answer it already had (chosen, changed, chosen back) is
    // not lost, and whether the time ran out or the exam was handed in (another tab) is its status.
    let status = "";
    const held = { ...serverChoice };  // position -> the choice the server holds
    try {
      const r = await api("GET", `/attempts/${attempt.id}`);
      if (r.status === 200 && r.data) {
        status = r.data.attempt.status;
        for (const q of r.data.questions || []) if (q.seq !== null && q.seq !== undefined) held[q.position] = q.choice;
      }
    } catch (e) { /* offline again: what the page knows */ }
    for (const [p, choice] of [...lateLost]) if (p in held && held[p] === choice) lateLost.delete(p);
    if (!lateLost.size) { window.location = `/attempt/${attempt.id}/result`; return; }
    // The questions show what the server holds (an unsaved choice does not look chosen), locked.
    for (const q of questions) if (lateLost.has(q.position)) q.choice = q.position in held ? held[q.position] : null;
    show(current, false);
    document.querySelectorAll("#exam input, #exam button").forEach((el) => (el.disabled = true));
    const numbers = [...lateLost.keys()].map((p) => questions.findIndex((q) => q.position === p) + 1)
      .filter((n) => n > 0).sort((a, b) => a - b).join(", ");
    const timeOut = lateCode === "deadline_passed" || status === "timed_out" || status === "";
    const box = $("alert");
    const timeUp = attempt.timeout_policy === "grade_saved" ? M.time_up_grade_saved : M.time_up_unsatisfactory;
    box.textContent = timeOut ? timeUp + " " + fmt(M.late_not_saved, { number: numbers })
                              : fmt(M.ended_not_saved, { number: numbers });
    const a = document.createElement("a");
    a.href = `/attempt/${attempt.id}/result`;
    a.id = "to-result";
    a.className = "button primary";
    a.textContent = M.see_result;
    const line = document.createElement("p");
    line.appendChild(a);
    box.appendChild(line);
    const el = $("save-status");
    el.className = "save-status offline";
    el.textContent = fmt(M.not_saved_short, { number: numbers });
    focusBelowBar(box);
  }

  // Going to the result while offline opened the browser's own "no internet" page, in the browser's
  // words and language, at the most anxious moment of the exam: the page stays, says why, and asks
  // the server every few seconds.
  async function untilServerAnswers() {
    const timeUp = $("alert").textContent;
    for (;;) {
      try {
        await api("GET", `/attempts/${attempt.id}`);
        $("alert").textContent = timeUp;
        return;
      } catch (e) {
        $("alert").textContent = timeUp + " " + M.result_when_online;
        await new Promise((ok) => setTimeout(ok, 3000));
      }
    }
  }

  // The hand-in could not reach the server (offline): the student must not believe it went. The
  // answers stay queued in this browser; the page says so and, when the server answers again,
  // that the exam is still not handed in.
  function notHandedIn() {
    handInFailed = true;
    showSaveState(pendingCount() > 0);
    tell(M.not_handed_in);
  }

  function reachedServer() {
    if (!handInFailed) return;
    handInFailed = false;
    showSaveState(false);
    $("alert").textContent = M.back_not_handed_in;
  }

  async function submitNow() {
    const unanswered = questions.filter((q) => q.choice === null || q.choice === undefined).length;
    $("confirm-text").textContent = fmt(M.confirm_submit, { count: unanswered });
    const dialog = $("confirm-dialog");
    dialog.showModal();
    $("confirm-yes").onclick = async () => {
      dialog.close();
      await flush();
      // An answer the server failed is tried a few more times (at most about 8 s): wait for its verdict.
      for (let waited = 0; waited < 10000 && Object.keys(failing).some((p) => queue[p]); waited += 250) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        await flush();
      }
      if (paused) return tell(M.paused);
      if (pendingCount() > 0) return notHandedIn();
      finished = true;
      let r;
      try {
        r = await api("POST", `/attempts/${attempt.id}/submit`);
      } catch (e) {
        finished = false;  // offline: nothing was handed in; the clock and the page go on
        notHandedIn();
        // Or only the server's answer was lost on the way back: ask it at once (and again at every
        // ping); a hand-in it did take opens the result, never «time is up».
        return presence();
      }
      if (r.status === 200 || r.status === 409) {
        try { localStorage.removeItem(storeKey()); } catch (e) { /* ignore */ }
        // The wait below may last seconds: say that the answers are in and what the page waits for.
        if ((window.examBeforeLeave || []).length) $("alert").textContent = M.handed_in_recording;
        await beforeLeave();  // the recording up to the hand-in is sent (at most LEAVE_WAIT_MS)
        window.location = `/attempt/${attempt.id}/result`;
      } else if (AGAIN(r.status) || r.status >= 500) {
        finished = false;  // the server could not take it now: as offline, nothing was handed in
        notHandedIn();
        presence();  // a proxy's 504 may stand for a hand-in the server did take
      } else {
        finished = false;
        const said = r.data && r.data.error && r.data.error.message;
        if (said) tell(fmt(M.error, { message: said }));
        else notHandedIn();  // an answer without words (a proxy's page): nothing was handed in
      }
    };
    $("confirm-no").onclick = () => dialog.close();
  }

  // The server holds a hand-in (its answer to «Hand in» was lost, or another tab of this browser
  // handed in) and nothing waits here: the result, without a word of «time is up».
  async function handedIn() {
    if (finished) return;
    finished = true;
    try { localStorage.removeItem(storeKey()); sessionStorage.removeItem(posKey()); } catch (e) { /* ignore */ }
    await beforeLeave();
    window.location = `/attempt/${attempt.id}/result`;
  }

  // The server may pause, resume or extend the attempt at any time: ask it regularly.
  async function presence() {
    if (finished || !attempt) return;
    try {
      const sentAt = Date.now();
      const r = await api("POST", `/attempts/${attempt.id}/presence`);
      if (r.status === 200 && r.data) {
        const summary = r.data.attempt || r.data;
        if (summary.server_now) syncClock(summary.server_now, sentAt);
        if (summary.deadline_at) attempt.deadline_at = summary.deadline_at;
        if (pendingCount() === 0) reachedServer();
        if (summary.status === "paused") setPaused(true);
        else if (summary.status === "in_progress") setPaused(false);
        else if (summary.status === "submitted" && pendingCount() === 0) handedIn();
        else finish(true);
      } else if (r.status === 409 && r.data && r.data.error && r.data.error.code === "attempt_paused") {
        setPaused(true);
      } else if (r.status === 401) {
        sessionLost();
      }
    } catch (e) { /* offline: the next ping tells */ }
  }

  async function resync() {
    try {
      const sentAt = Date.now();
      const r = await api("GET", "/time");
      if (r.status === 200) syncClock(r.data.server_now, sentAt);
      else if (r.status === 401) sessionLost();
    } catch (e) { /* offline: keep the last offset */ }
  }

  async function start() {
    const sentAt = Date.now();
    let r;
    try {
      r = await api("POST", `/exams/${config.exam_id}/start`, {});
    } catch (e) {
      r = { status: 0, data: null };
    }
    if (r.status === 0 || AGAIN(r.status) || r.status >= 500) {
      // No connection (or the server busy) while the page opens: it said «Loading…» for ever. Say
      // so and try again by itself; the questions come as soon as the server answers.
      $("exam-loading").querySelector("p").textContent = M.start_offline;
      setTimeout(start, 5000);
      return;
    }
    if (r.status !== 200) {
      // Refused (the window closed while the rules were read, not open yet…): said in the page's own
      // words where the server's carry a raw time, and the way back to «My exams».
      const code = r.data && r.data.error && r.data.error.code;
      if (code === "retake_forbidden") {
        // This exam's own attempt ended between the page and «start» (the time ran out, the sweeper
        // closed it): its result, not «a retake is not allowed». The server's list says which attempt.
        try {
          const mine = await api("GET", "/student/exams");
          const e = mine.status === 200 && (mine.data.exams || []).find((x) => x.id === config.exam_id);
          if (e && e.attempt && !["checks", "in_progress", "paused"].includes(e.attempt.status)) {
            window.location.replace(`/attempt/${e.attempt.id}/result`);
            return;
          }
        } catch (e) { /* say the server's words below */ }
      }
      $("exam-loading").innerHTML = "";
      const p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = code === "exam_closed" || code === "exam_not_open" ? M[code]
        : (r.data && r.data.error && r.data.error.message) || fmt(M.error, { message: r.status });
      const back = document.createElement("a");
      back.href = "/student";
      back.className = "button";
      back.textContent = M.back_home;
      const line = document.createElement("p");
      line.appendChild(back);
      $("exam-loading").append(p, line);
      return;
    }
    syncClock(r.data.attempt.server_now, sentAt);
    attempt = r.data.attempt;
    questions = r.data.questions;
    if (attempt.status === "checks") { window.location = `/exam/${config.exam_id}/check`; return; }
    if (attempt.status !== "in_progress" && attempt.status !== "paused") {
      window.location = `/attempt/${attempt.id}/result`;
      return;
    }
    if (location.search) history.replaceState(null, "", location.pathname);  // "?begin=1" did its job
    seq = Math.max(0, ...questions.map((q) => q.seq || 0));
    questions.forEach((q) => { if (q.seq !== null && q.seq !== undefined) serverChoice[q.position] = q.choice; });
    restoreQueue();
    $("exam-loading").hidden = true;
    $("exam").hidden = false;
    let resumeAt = 0;
    try { resumeAt = Number(sessionStorage.getItem(posKey()) || 0) || 0; } catch (e) { resumeAt = 0; }
    show(resumeAt, false);
    if (attempt.status === "paused") setPaused(true);
    showSaveState(false);
    flush();
    tick();
    setInterval(tick, 250);
    setInterval(resync, 30000);
    setInterval(presence, 15000);
    window.addEventListener("online", () => { flush(); presence(); });
    // Back from a frozen or hidden tab (the lifecycle's «resume», a phone's screen turned on again).
    document.addEventListener("resume", wake);
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") wake(); });
    window.addEventListener("beforeunload", (e) => { if (pendingCount() > 0 && !finished && !sessionGone) { e.preventDefault(); e.returnValue = ""; } });
  }

  $("prev").addEventListener("click", () => show(current - 1, true));
  $("next").addEventListener("click", () => show(current + 1, true));
  $("submit").addEventListener("click", submitNow);
  document.addEventListener("keydown", (e) => {
    if (document.querySelector("dialog[open]")) return;  // the hand-in dialog: the question behind it stays
    if (e.altKey && e.key === "ArrowRight") { show(current + 1, true); e.preventDefault(); }
    if (e.altKey && e.key === "ArrowLeft") { show(current - 1, true); e.preventDefault(); }
  });
  start();
})();
