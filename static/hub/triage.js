/* Triage inbox and error group page: re-fetch the live fragment when an error group changes, and once
 * subscribed (catches changes made while the connection was down). Ticked boxes survive the refresh;
 * "select all" and the count of ticked rows work after any htmx swap (listeners sit on the document). */
(function () {
  "use strict";
  const FRAGMENTS = ["triage-list", "errorgroup-body"];
  let pending = null;

  function refresh() {
    // Coalesce bursts (a run commits many pages) into one request.
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      if (window.htmx) htmx.trigger(document.body, "hub-refresh-triage");
    }, 250);
  }

  function boxes(name) {
    return Array.from(document.querySelectorAll('input[type="checkbox"][name="' + name + '"]'));
  }

  function updateCount() {
    document.querySelectorAll("[data-selected-count]").forEach((label) => {
      const form = label.closest("form") || document;
      const ticked = Array.from(form.querySelectorAll('input[type="checkbox"][name="selection"]')).filter((b) => b.checked).length;
      if (!label.dataset.empty) label.dataset.empty = label.textContent;
      label.textContent = ticked ? (label.dataset.template || "{n} selected").replace("{n}", ticked) : label.dataset.empty;
    });
  }

  let kept = [];
  document.body.addEventListener("htmx:beforeSwap", (ev) => {
    if (FRAGMENTS.includes(ev.detail.target.id)) kept = boxes("selection").filter((b) => b.checked).map((b) => b.value);
  });
  document.body.addEventListener("htmx:afterSettle", () => {
    if (!kept.length) return;
    boxes("selection").forEach((b) => { if (kept.includes(b.value)) b.checked = true; });
    kept = [];
    updateCount();
  });

  document.addEventListener("change", (ev) => {
    const all = ev.target.closest("[data-select-all]");
    if (all) boxes(all.dataset.selectAll).forEach((b) => { b.checked = all.checked; });
    if (all || ev.target.name === "selection") updateCount();
  });

  document.body.addEventListener("hub:errorgroup.changed", refresh);
  document.body.addEventListener("hub:access.changed", refresh);
  document.body.addEventListener("hub:subscribed", refresh);
})();
