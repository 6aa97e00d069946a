/* Integration Hub console behaviour: live updates over one websocket, small form helpers.
 *
 * Live updates: every logged-in page opens /ws/live/. Each server event {type, payload} is dispatched
 * on document.body as a DOM event named "hub:<type>" (e.g. "hub:object.changed"); pages listen for
 * what they show and re-fetch their server-rendered fragments (register, then apply). On reconnect a
 * "hub:reconnected" event tells pages to catch up on what they missed.
 */
(function () {
  "use strict";

  function setStatus(state) {
    const el = document.getElementById("live-status");
    if (!el) return;
    el.dataset.state = state;
    const label = el.querySelector(".live-label");
    if (label) label.textContent = el.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)] || state;
  }

  const live = {
    socket: null,
    state: "connecting",
    attempts: 0,
    connectedOnce: false,
    lastEventAt: null,
    connect() {
      const path = document.body.dataset.liveSocket;
      if (!path) return;
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + location.host + path);
      this.socket = socket;
      socket.addEventListener("open", () => {
        const reconnected = this.connectedOnce;
        this.attempts = 0;
        this.connectedOnce = true;
        this.state = "live";
        setStatus("live");
        if (reconnected) document.body.dispatchEvent(new CustomEvent("hub:reconnected"));
      });
      socket.addEventListener("message", (msg) => {
        let event;
        try { event = JSON.parse(msg.data); } catch (e) { return; }
        this.lastEventAt = Date.now();
        document.body.dispatchEvent(new CustomEvent("hub:" + event.type, { detail: event }));
      });
      socket.addEventListener("close", (ev) => {
        this.state = "offline";
        setStatus("offline");
        if (ev.code === 4401) return; // logged out or deactivated: do not hammer the server
        // Exponential backoff with jitter, capped at 30 s.
        const delay = Math.min(30000, 1000 * 2 ** this.attempts) * (0.5 + Math.random() / 2);
        this.attempts += 1;
        setTimeout(() => this.connect(), delay);
      });
    },
  };
  window.hubLive = live;

  document.addEventListener("DOMContentLoaded", () => {
    live.connect();

    document.body.addEventListener("change", (ev) => {
      const el = ev.target.closest("[data-autosubmit]");
      if (el && el.form) el.form.requestSubmit();
    });
    document.body.addEventListener("click", (ev) => {
      const btn = ev.target.closest("[data-copy]");
      if (!btn) return;
      const input = document.querySelector(btn.dataset.copy);
      if (!input) return;
      input.select();
      if (navigator.clipboard) navigator.clipboard.writeText(input.value).catch(() => {});
    });
  });
})();
