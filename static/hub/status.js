/* Status page: measure the worker → browser round trip started by "Test live updates". */
(function () {
  "use strict";
  let pending = null;
  document.body.addEventListener("htmx:afterSwap", (ev) => {
    const box = ev.detail.target.querySelector && ev.detail.target.querySelector(".live-ping");
    if (!box) return;
    if (pending) clearTimeout(pending.timer);
    pending = {
      box: box,
      token: box.dataset.token,
      clickedAt: performance.now(),
      timer: setTimeout(() => {
        box.textContent = box.dataset.labelTimeout;
        box.className = "live-ping alert alert-warning";
        pending = null;
      }, 15000),
    };
  });
  document.body.addEventListener("hub:hub.ping", (ev) => {
    const p = ev.detail.payload || {};
    if (!pending || p.token !== pending.token) return;
    clearTimeout(pending.timer);
    const ms = Math.round(performance.now() - pending.clickedAt);
    pending.box.textContent = pending.box.dataset.labelOk.replace("%(ms)s", ms);
    pending.box.className = "live-ping alert alert-success";
    pending.box.dataset.roundTripMs = String(ms);
    pending = null;
  });
})();
