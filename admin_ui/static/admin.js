// Schedule-an-exam form: list only the bank versions of the chosen discipline (without script, all are listed).
"use strict";
(function () {
  const discipline = document.getElementById("f-discipline");
  const selects = document.querySelectorAll("select.bank-version");
  if (!discipline || !selects.length) return;
  function filter(preselect) {
    const code = discipline.value;
    selects.forEach(function (select) {
      Array.prototype.forEach.call(select.options, function (option) {
        if (!option.value) return;
        const fits = !code || option.dataset.discipline === code;
        option.hidden = !fits;
        option.disabled = !fits;
        if (!fits && option.selected) select.value = "";
      });
      if (preselect && code && !select.value) {
        // Pre-select the newest published version of the discipline in this language.
        const fitting = Array.prototype.filter.call(select.options, function (o) { return o.value && !o.disabled; });
        if (fitting.length) select.value = fitting[fitting.length - 1].value;
      }
    });
  }
  discipline.addEventListener("change", function () { filter(true); });
  filter(false);
})();
