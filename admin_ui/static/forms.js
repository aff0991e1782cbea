"use strict";
// What the browser words itself is in the browser's language, English on many hall computers:
// "Please fill out this field.", a file field's "Choose File" and "No file chosen". Every page
// loads this script; it gives those the reader's words (kk/ru, from #form-messages).
(() => {
  const source = document.getElementById("form-messages");
  if (!source) return;
  const M = JSON.parse(source.textContent);
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? values[key] : whole));

  function message(field) {
    const v = field.validity;
    if (v.valueMissing) {
      if (field.type === "file") return M.file_missing;
      if (field.type === "checkbox") return M.tick;
      if (field.tagName === "SELECT" || field.type === "radio") return M.choose;
      return M.missing;
    }
    if (v.tooShort) return fill(M.too_short, { min: field.minLength });
    if (v.tooLong) return fill(M.too_long, { max: field.maxLength });
    if (v.rangeUnderflow) return fill(M.too_small, { min: field.min });
    if (v.rangeOverflow) return fill(M.too_large, { max: field.max });
    if (field.type === "number" && v.badInput) return M.number;
    if (field.type === "number" && v.stepMismatch && (field.step || "1") === "1") return M.whole;
    return M.format;
  }

  // The check's words are set as it fails and cleared at the next edit, so the browser judges again.
  document.addEventListener("invalid", (event) => {
    const field = event.target;
    field.setCustomValidity("");
    if (!field.validity.valid) field.setCustomValidity(message(field));
  }, true);
  const clear = (event) => {
    if (typeof event.target.setCustomValidity === "function") event.target.setCustomValidity("");
  };
  document.addEventListener("input", clear, true);
  document.addEventListener("change", clear, true);
  // Every try to send a form is judged afresh: the words set at the last try are cleared first, so a
  // rule lifted since (a field no longer required, a value a script set) no longer holds the form back.
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const button = target ? target.closest("button, input[type=submit], input[type=image]") : null;
    if (!button || !button.form || (button.type !== "submit" && button.type !== "image")) return;
    for (const field of button.form.elements) {
      if (typeof field.setCustomValidity === "function") field.setCustomValidity("");
    }
  }, true);

  // A file field: the page's own button and the chosen file's name; the browser's control stays in the
  // form (it is what is sent and checked), out of sight and out of the tab order.
  for (const input of document.querySelectorAll("input[type=file]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "file-choose";
    button.textContent = M.choose_file;
    const name = document.createElement("span");
    name.className = "file-name";
    name.setAttribute("aria-live", "polite");
    name.textContent = M.no_file;
    const label = input.id ? document.querySelector(`label[for="${input.id}"]`) : null;
    if (label) {
      label.id = label.id || `${input.id}-label`;
      button.setAttribute("aria-labelledby", `${label.id} ${input.id}-choose`);
      button.id = `${input.id}-choose`;
    }
    input.classList.add("file-native");
    input.tabIndex = -1;
    input.after(button, name);
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      name.textContent = input.files.length ? Array.from(input.files, (f) => f.name).join(", ") : M.no_file;
    });
  }
})();
