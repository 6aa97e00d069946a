/* A system's page redraws its circuit-breaker banner and badge when the breaker changes state. */
(function () {
  "use strict";
  const banner = document.getElementById("breaker-banner");
  if (!banner || !window.htmx) return;
  const systemId = Number(banner.dataset.system);
  const redraw = () => {
    for (const id of ["#breaker-banner", "#breaker-state"]) {
      window.htmx.ajax("GET", location.pathname, { target: id, select: id, swap: "outerHTML" });
    }
  };
  document.body.addEventListener("hub:system.breaker", (ev) => {
    const p = (ev.detail && ev.detail.payload) || {};
    if (p.system === systemId) redraw();
  });
  document.body.addEventListener("hub:reconnected", redraw);
})();
