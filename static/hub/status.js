/* Status page: measure the round trip started by "Test live updates", from the click to the worker's
 * answer arriving over the websocket. The answer can beat the POST's response (a fast worker on Redis),
 * so answers are kept until the request's token is known. */
(function () {
  "use strict";
  let clickedAt = null;
  let pending = null;
  const early = new Map(); // token → arrival time, for answers that came before the token did

  function settle(box, arrivedAt) {
    const ms = Math.round(arrivedAt - clickedAt);
    box.textContent = box.dataset.labelOk.replace("%(ms)s", ms);
    box.className = "live-ping alert alert-success";
    box.dataset.roundTripMs = String(ms);
  }

  // Capture phase: the clock starts at the click itself, before htmx sends the request.
  document.addEventListener(
    "click",
    (ev) => {
      if (ev.target.closest && ev.target.closest("#live-ping-button")) {
        clickedAt = performance.now();
        early.clear();
      }
    },
    true,
  );

  document.body.addEventListener("htmx:afterSwap", (ev) => {
    const box = ev.detail.target.querySelector && ev.detail.target.querySelector(".live-ping");
    if (!box || clickedAt === null) return;
    if (pending) clearTimeout(pending.timer);
    const token = box.dataset.token;
    if (early.has(token)) {
      settle(box, early.get(token));
      pending = null;
      return;
    }
    pending = {
      box: box,
      token: token,
      timer: setTimeout(() => {
        box.textContent = box.dataset.labelTimeout;
        box.className = "live-ping alert alert-warning";
        pending = null;
      }, 15000),
    };
  });

  document.body.addEventListener("hub:hub.ping", (ev) => {
    const arrivedAt = performance.now();
    const token = (ev.detail.payload || {}).token;
    if (pending && token === pending.token) {
      clearTimeout(pending.timer);
      settle(pending.box, arrivedAt);
      pending = null;
    } else if (clickedAt !== null) {
      early.set(token, arrivedAt);
    }
  });
})();
