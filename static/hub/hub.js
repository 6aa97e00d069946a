/* Integration Hub console behaviour: live updates over one websocket, small form helpers.
 *
 * Live updates: every logged-in page opens /ws/live/. Each server event {type, payload} is dispatched
 * on document.body as a DOM event named "hub:<type>" (e.g. "hub:object.changed"); pages listen for
 * what they show and re-fetch their server-rendered fragments (register, then apply). Once the server
 * has subscribed the connection ("hub.hello"), a "hub:subscribed" event tells pages to catch up on what
 * changed since their first render or the last disconnection.
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
        this.attempts = 0;
      });
      socket.addEventListener("message", (msg) => {
        let event;
        try { event = JSON.parse(msg.data); } catch (e) { return; }
        this.lastEventAt = Date.now();
        if (event.type === "hub.hello") {
          // The server has joined this connection to its groups: from now on no event is missed.
          // Pages re-fetch what they show once, to catch what changed between their first render
          // (or the last disconnection) and this moment.
          const reconnected = this.connectedOnce;
          this.connectedOnce = true;
          this.state = "live";
          setStatus("live");
          document.body.dispatchEvent(new CustomEvent("hub:subscribed", { detail: { reconnected } }));
          if (reconnected) document.body.dispatchEvent(new CustomEvent("hub:reconnected"));
        }
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
