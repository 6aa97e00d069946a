/* Breach register: keep the 72-hour clocks ticking without a reload, and pre-fill the breach form's
 * data categories from the register when systems are chosen.
 *
 * Clocks: an element with data-clock carries data-deadline (ISO time) and the two labels, translated by
 * the server, where "{d}" stands for the duration ("{d} left", "Overdue by {d}"). Its colour follows:
 * blue while more than 24 h remain, amber under 24 h, red once overdue.
 */
(function () {
  "use strict";

  const DAY = 24 * 3600 * 1000;
  const COLOURS = ["info", "warning", "danger"];

  function duration(ms) {
    const minutes = Math.floor(Math.abs(ms) / 60000);
    const h = Math.floor(minutes / 60);
    const m = String(minutes % 60).padStart(2, "0");
    return h + " h " + m + " min";
  }

  function recolour(el, colour) {
    const prefix = el.classList.contains("alert") ? "alert-" : "text-bg-";
    COLOURS.forEach((c) => el.classList.remove(prefix + c));
    el.classList.add(prefix + colour);
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-clock]").forEach((el) => {
      const deadline = Date.parse(el.dataset.deadline);
      if (Number.isNaN(deadline)) return;
      const left = deadline - now;
      const label = el.querySelector(".clock-label");
      const template = left < 0 ? el.dataset.overdue : el.dataset.left;
      if (label && template) label.textContent = template.replace("{d}", duration(left));
      recolour(el, left < 0 ? "danger" : left <= DAY ? "warning" : "info");
    });
  }

  function prefill(select) {
    const url = select.dataset.categoriesUrl;
    const target = document.getElementById("id_data_categories");
    if (!url || !target) return;
    const params = new URLSearchParams();
    Array.from(select.selectedOptions).forEach((o) => params.append("systems", o.value));
    fetch(url + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : { categories: [] }))
      .then((data) => {
        let added = 0;
        data.categories.forEach((c) => {
          const option = target.querySelector('option[value="' + c.id + '"]');
          if (option && !option.selected) {
            option.selected = true;
            added += 1;
          }
        });
        const note = document.getElementById("categories-note");
        if (note) {
          const names = data.categories.map((c) => c.name).join(", ");
          note.textContent = data.categories.length
            ? (note.dataset.found || "From the register: ") + names + (added ? " (+" + added + ")" : "")
            : note.dataset.none || "The register declares no data category for these systems.";
          note.classList.remove("d-none");
        }
      })
      .catch(() => {});
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (document.querySelector("[data-clock]")) {
      tick();
      setInterval(tick, 30000);
    }
    const systems = document.querySelector("select[data-categories-url]");
    if (systems) systems.addEventListener("change", () => prefill(systems));
  });
})();
