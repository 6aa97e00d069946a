/* Runs follow their progress live: a run page redraws its body, a flow page its runs card, whenever
 * the worker publishes "run.progress" for them (and once after (re)subscribing, to catch up). */
(function () {
  "use strict";
  // A run publishes progress up to twice a second: the run page redraws at most once a second, and
  // once more after the last event so the final state always shows.
  const THROTTLE_MS = 1000;
  let last = 0;
  let pending = null;
  const fetchBody = (el) => {
    last = Date.now();
    if (window.htmx) window.htmx.ajax("GET", el.dataset.url, { target: el, swap: "innerHTML" });
  };
  const redraw = (el) => {
    const wait = THROTTLE_MS - (Date.now() - last);
    if (wait <= 0 && !pending) return fetchBody(el);
    if (!pending) pending = setTimeout(() => { pending = null; fetchBody(el); }, Math.max(wait, 0));
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
