// The journal grid: keyboard entry of scores and marks, each cell saved through the JSON API.
// - Enter saves and moves down (Shift+Enter up); the arrow keys save and move; Escape undoes the typing;
//   leaving a cell (Tab, a click) saves it too.
// - Every cell shows its state (saving, saved, refused) and the status line says it in words, with the
//   server's own message when a value is refused (e.g. "needs a correction"), and then offers the
//   correction form for that cell.
// - The computed columns (admission rating, total, letter, status) are re-read from the server after a
//   save: the journal computes them, never this page.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("journal-config").textContent);
  const M = config.messages;
  const $ = (id) => document.getElementById(id);
  const fmt = (text, params) => text.replace(/\{(\w+)\}/g, (_, k) => (k in params ? params[k] : "{" + k + "}"));
  const grid = $("grid");
  const statusLine = $("grid-status");
  const CORRECTABLE = new Set(["value_already_entered", "entry_window_passed", "period_closed"]);
  const NOT_COMPUTED = new Set(["timed_out", "annulled"]);
  let selected = null;

  async function api(method, path, body) {
    try {
      const response = await fetch("/api/v1" + path, {
        method,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      return { status: response.status, data };
    } catch (e) {
      return { status: 0, data: null };
    }
  }

  const errorOf = (r) => (r.data && r.data.error) || { code: "network", message: M.offline };
  const shown = (cell) => (cell === null || cell === undefined ? ""
    : cell.score !== null && cell.score !== undefined ? String(cell.score) : (config.marks[cell.mark] || cell.mark));

  function say(text, kind, action) {
    statusLine.className = "grid-status " + (kind || "");
    statusLine.replaceChildren(document.createTextNode(text));
    if (action) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "small";
      button.id = "status-correction";
      button.textContent = action.label;
      button.addEventListener("click", action.run);
      statusLine.append(" ", button);
    }
  }

  function names(el) { return { student: el.dataset.studentName, lesson: el.dataset.lessonName }; }

  function setState(input, state, message) {
    input.closest("td").dataset.state = state;
    input.setAttribute("aria-invalid", state === "error" ? "true" : "false");
    if (message) { input.title = message; } else { input.removeAttribute("title"); }
  }

  // ------------------------------------------------------------------ computed columns

  function computedText(s) {
    const num = (v) => (v === null || v === undefined ? "—" : String(v));
    let total = "—";
    if (s.total_computed) { total = String(s.total); } else if (NOT_COMPUTED.has(s.status)) { total = M.not_computed; }
    return { current: num(s.current), midterm1: num(s.midterm1), midterm2: num(s.midterm2),
             admission: num(s.admission), total,
             exam: !s.exam ? "—" : s.exam.status === "annulled" ? fmt(M.annulled, { score: num(s.exam.score) }) : num(s.exam.score),
             letter: s.letter || "—", status: s.status_label };
  }

  async function refreshRow(studentId) {
    const r = await api("GET", "/journals/" + config.journal_id);
    if (r.status !== 200) { return; }
    const s = r.data.students.find((x) => x.id === studentId);
    const row = grid.querySelector('tr[data-student="' + studentId + '"]');
    if (!s || !row) { return; }
    const text = computedText(s);
    for (const td of row.querySelectorAll("td.computed")) { td.textContent = text[td.dataset.col]; }
  }

  // ------------------------------------------------------------------ saving a cell

  async function save(input, force) {
    const value = input.value.trim();
    if (value === input.dataset.saved) { setState(input, input.dataset.saved ? "saved" : ""); return; }
    if (!force && value === input.dataset.refused) { return; }
    const who = names(input);
    setState(input, "saving");
    say(M.saving, "pending");
    const path = "/journals/" + config.journal_id + "/lessons/" + input.dataset.lesson + "/cells/" + input.dataset.student;
    const r = await api("PUT", path, { value });
    if (r.status === 200) {
      const text = shown(r.data.cell);
      input.dataset.saved = text;
      delete input.dataset.refused;
      if (input.value.trim() === value) { input.value = text; }
      setState(input, "saved");
      say(fmt(M.saved, { ...who, value: text }), "ok");
      refreshRow(input.dataset.student);
      return;
    }
    const error = errorOf(r);
    input.dataset.refused = value;
    setState(input, "error", error.message);
    const message = fmt(M.refused, { ...who, message: error.message });
    if (CORRECTABLE.has(error.code) && config.can_edit) {
      say(message, "error", { label: M.needs_correction, run: () => openCorrection(input, value) });
    } else {
      say(message, "error");
    }
  }

  // Each input saves one request at a time, in order: a blur right after Enter waits for the first answer.
  function queueSave(input, force) {
    input._chain = (input._chain || Promise.resolve()).then(() => save(input, force));
    return input._chain;
  }

  function inputsOf(row) { return row ? Array.from(row.querySelectorAll(".cell-input")) : []; }

  function move(input, dRow, dCol) {
    const rows = Array.from(grid.tBodies[0].rows);
    const row = input.closest("tr");
    const col = inputsOf(row).indexOf(input);
    const target = inputsOf(rows[rows.indexOf(row) + dRow])[col + dCol];
    if (target) { target.focus(); target.select(); }
  }

  const MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

  function onKey(event) {
    const input = event.target;
    if (!input.classList.contains("cell-input")) { return; }
    if (event.key === "Enter") {
      event.preventDefault();
      queueSave(input, true);
      move(input, event.shiftKey ? -1 : 1, 0);
    } else if (event.key === "Escape") {
      input.value = input.dataset.saved;
      setState(input, input.dataset.saved ? "saved" : "");
      delete input.dataset.refused;
    } else if (MOVES[event.key] && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      queueSave(input, false);
      move(input, ...MOVES[event.key]);
    }
  }

  // ------------------------------------------------------------------ the selected cell: history, correction

  function select(el) {
    selected = el;
    $("selected-cell").textContent = fmt(M.selected, names(el));
    $("show-history").disabled = false;
    if ($("open-correction")) { $("open-correction").disabled = false; }
    $("history").replaceChildren();
  }

  // The journal stores "entry" for a first entry and "correction N: reason" for an applied correction.
  function reasonText(reason) {
    if (reason === "entry") { return M.entry; }
    const match = /^correction (\d+): ([\s\S]*)$/.exec(reason || "");
    return match ? fmt(M.by_correction, { id: match[1], reason: match[2] }) : (reason || "");
  }

  async function showHistory() {
    if (!selected) { return; }
    const path = "/journals/" + config.journal_id + "/lessons/" + selected.dataset.lesson + "/cells/" +
      selected.dataset.student + "/history";
    const r = await api("GET", path);
    const box = $("history");
    if (r.status !== 200) { box.textContent = errorOf(r).message; return; }
    if (!r.data.items.length) { box.textContent = M.history_empty; return; }
    const list = document.createElement("ol");
    for (const h of r.data.items) {
      // Numeric day.month.year is how both languages write dates in Kazakhstan (and needs no kk locale data).
      const time = new Date(h.changed_at).toLocaleString("ru-RU", { timeZone: config.time_zone, day: "2-digit",
        month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit" });
      const li = document.createElement("li");
      li.textContent = fmt(M.history_line, { time, old: shown(h.old) || M.empty, new: shown(h.new) || M.empty,
        who: config.people[h.changed_by] || h.changed_by, why: reasonText(h.reason) });
      list.append(li);
    }
    box.replaceChildren(list);
  }

  function openCorrection(input, value) {
    const dialog = $("correction-dialog");
    if (!dialog) { return; }
    select(input);
    $("correction-cell").textContent = fmt(M.selected, names(input));
    $("correction-action").value = "change";
    $("correction-value").value = value !== undefined ? value : input.value.trim();
    $("correction-reason").value = "";
    $("correction-error").textContent = "";
    dialog.showModal();
    $("correction-reason").focus();
  }

  async function fileCorrection(event) {
    event.preventDefault();
    const action = $("correction-action").value;
    const body = { lesson_id: Number(selected.dataset.lesson), action, reason: $("correction-reason").value };
    if (action !== "delete_lesson") { body.student_id = Number(selected.dataset.student); }
    if (action === "change") { body.value = $("correction-value").value.trim(); }
    const r = await api("POST", "/journals/" + config.journal_id + "/corrections", body);
    if (r.status !== 201) { $("correction-error").textContent = errorOf(r).message; return; }
    $("correction-dialog").close();
    if (selected.classList.contains("cell-input")) {
      selected.value = selected.dataset.saved;
      delete selected.dataset.refused;
      setState(selected, "correction", M.correction_filed.replace("{id}", r.data.id));
      selected.focus();
    }
    say(fmt(M.correction_filed, { id: r.data.id }), "ok");
  }

  // The date field is typed as Kazakhstan writes it (07.12.2026, also 7.12.2026; ISO 2026-12-07 too);
  // the API takes ISO. The same forms as admin_ui/dates.py's read_day; null when it is not a real day.
  function isoDay(text) {
    const t = text.trim();
    let m = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(t);
    let y, mo, d;
    if (m) { [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])]; }
    else if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t))) { [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]; }
    else { return null; }
    const day = new Date(Date.UTC(y, mo - 1, d));
    if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) { return null; }
    return String(y).padStart(4, "0") + "-" + String(mo).padStart(2, "0") + "-" + String(d).padStart(2, "0");
  }

  async function addLesson(event) {
    event.preventDefault();
    const field = $("lesson-date");
    const held = isoDay(field.value);
    if (held === null) {
      field.setAttribute("aria-invalid", "true");
      $("lesson-error").textContent = M.date_unreadable;
      field.focus();
      return;
    }
    field.removeAttribute("aria-invalid");
    const body = { held_on: held, kind: $("lesson-kind").value, topic: $("lesson-topic").value };
    const r = await api("POST", "/journals/" + config.journal_id + "/lessons", body);
    if (r.status !== 201) { $("lesson-error").textContent = errorOf(r).message; return; }
    window.location.reload();
  }

  // ------------------------------------------------------------------ wiring

  grid.addEventListener("keydown", onKey);
  grid.addEventListener("focusin", (e) => {
    const el = e.target;
    if (el.classList.contains("cell-input") || el.classList.contains("cell-view")) { select(el); }
    if (el.classList.contains("cell-input")) { el.select(); }
  });
  grid.addEventListener("focusout", (e) => {
    if (e.target.classList.contains("cell-input")) { queueSave(e.target, false); }
  });
  $("show-history").addEventListener("click", showHistory);
  if (config.can_edit) {
    $("open-correction").addEventListener("click", () => selected && openCorrection(selected));
    $("correction-form").addEventListener("submit", fileCorrection);
    $("correction-cancel").addEventListener("click", () => $("correction-dialog").close());
    $("lesson-form").addEventListener("submit", addLesson);
  }
  for (const input of grid.querySelectorAll(".cell-input")) {
    if (input.dataset.saved) { input.closest("td").dataset.state = "saved"; }
  }
})();
