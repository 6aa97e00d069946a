/* Failed records page: "select all on this page" and the count of ticked records (works after an htmx
 * swap of the table too: listeners sit on the document). */
(function () {
  "use strict";

  function boxes(name) {
    return Array.from(document.querySelectorAll('input[type="checkbox"][name="' + name + '"]'));
  }

  function update() {
    const label = document.querySelector("[data-selected-count]");
    if (!label) return;
    const ticked = boxes("selection").filter((b) => b.checked).length;
    if (!label.dataset.empty) label.dataset.empty = label.textContent;
    label.textContent = ticked ? (label.dataset.template || "{n} selected").replace("{n}", ticked) : label.dataset.empty;
  }

  document.addEventListener("change", (ev) => {
    const all = ev.target.closest("[data-select-all]");
    if (all) boxes(all.dataset.selectAll).forEach((b) => { b.checked = all.checked; });
    if (all || (ev.target.name === "selection")) update();
  });
})();
