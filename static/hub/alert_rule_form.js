/* The alert rule form shows only what the chosen scope and condition use: the system picker for a
 * system scope, the flow picker for a flow scope, and the condition's own parameters. Hidden fields
 * keep their value; the server ignores those the condition does not use. */
(function () {
  "use strict";

  const PARAMS = ["threshold", "percent", "window_minutes"];

  function wrapper(name) {
    return document.querySelector(".field-" + name);
  }

  function show(name, visible) {
    const el = wrapper(name);
    if (el) el.hidden = !visible;
  }

  function update() {
    const form = document.getElementById("object-form");
    if (!form) return;
    const scope = form.querySelector('input[name="scope_kind"]:checked');
    show("system", scope && scope.value === "system");
    show("flow", scope && scope.value === "flow");
    const condition = form.querySelector('select[name="condition"]');
    if (!condition) return;
    const wanted = {};
    (condition.dataset.conditionParams || "").split(",").forEach((entry) => {
      const [key, params] = entry.split(":");
      wanted[key] = (params || "").split("+").filter(Boolean);
    });
    const used = wanted[condition.value] || [];
    PARAMS.forEach((name) => show(name, used.includes(name)));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("object-form");
    if (!form || !form.querySelector('select[name="condition"]')) return;
    form.addEventListener("change", update);
    update();
  });
})();
