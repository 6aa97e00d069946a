/* A data-health scan page follows its scan live: the count while it reads, the report when done. */
(function () {
  "use strict";
  const body = document.getElementById("scan-body");
  if (!body) return;
  const scanId = Number(body.dataset.scan);
  const reload = () => {
    if (window.htmx) window.htmx.ajax("GET", body.dataset.bodyUrl, { target: "#scan-body", swap: "innerHTML" });
  };
  document.body.addEventListener("hub:health.progress", (ev) => {
    const p = (ev.detail && ev.detail.payload) || {};
    if (p.scan !== scanId) return;
    const count = document.getElementById("scan-count");
    if (count) count.textContent = p.scanned;
    const shown = body.querySelector("[data-status]");
    if (!shown || shown.dataset.status !== p.status) reload();
  });
  // Events sent while the page was connecting are caught up once the connection is subscribed.
  document.body.addEventListener("hub:subscribed", () => {
    const shown = body.querySelector("[data-status]");
    if (shown && (shown.dataset.status === "queued" || shown.dataset.status === "running")) reload();
  });
})();
