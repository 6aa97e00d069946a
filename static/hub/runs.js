/* Runs follow their progress live: a run page redraws its body, a flow page its runs card, whenever
 * the worker publishes "run.progress" for them (and once after (re)subscribing, to catch up). */
(function () {
  "use strict";
  const redraw = (el) => {
    if (window.htmx) window.htmx.ajax("GET", el.dataset.url, { target: el, swap: "innerHTML" });
  };
  const runBody = document.querySelector("[data-live-run]");
  const flowRuns = () => document.querySelector("[data-live-runs]");
  document.body.addEventListener("hub:run.progress", (ev) => {
    const p = (ev.detail && ev.detail.payload) || {};
    if (runBody && p.run === Number(runBody.dataset.liveRun)) redraw(runBody);
    const card = flowRuns();
    if (card && p.flow === Number(card.dataset.liveRuns)) {
      window.htmx && window.htmx.ajax("GET", card.dataset.url, { target: card, swap: "outerHTML" });
    }
  });
  document.body.addEventListener("hub:subscribed", () => {
    if (runBody) redraw(runBody);
    const card = flowRuns();
    if (card) window.htmx && window.htmx.ajax("GET", card.dataset.url, { target: card, swap: "outerHTML" });
  });
})();
