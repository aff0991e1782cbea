// The result page, in the browser that sat the exam: answers the exam page still kept waiting (the page
// closed or reloaded without a connection, then the time ran out) are compared with what the server
// holds; those it does not hold are named — never a silent loss. The entry is then removed.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("held-config").textContent);
  const key = "exam-queue:" + config.attempt_id;
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { saved = null; }
  if (!saved || !saved.queue) return;
  const lost = Object.entries(saved.queue)
    .filter(([pos, item]) => item && config.numbers[pos] && (pos in config.choices ? config.choices[pos] : null) !== item.choice)
    .map(([pos]) => config.numbers[pos])
    .sort((a, b) => a - b);
  if (lost.length) document.getElementById("late-lost").textContent = config.message.replace("{number}", lost.join(", "));
  try { localStorage.removeItem(key); } catch (e) { /* ignore */ }
})();
