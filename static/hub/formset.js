/* Formsets: "Add a row" clones the empty row kept in <template id="<prefix>-empty">, numbers it and
 * tells htmx about its attributes. Rows are removed by their DELETE checkbox (kept server-side). */
(function () {
  "use strict";
  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("[data-formset-add]");
    if (!button) return;
    const prefix = button.dataset.formsetAdd;
    const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
    const template = document.getElementById(`${prefix}-empty`);
    const body = document.getElementById(`${prefix}-rows`);
    if (!total || !template || !body) return;
    const index = parseInt(total.value, 10);
    const html = template.innerHTML.replace(/__prefix__/g, String(index));
    body.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    const row = body.lastElementChild;
    if (window.htmx) htmx.process(row);
    const first = row.querySelector("input, select");
    if (first) first.focus();
  });
})();
