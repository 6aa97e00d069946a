/* The flow map: the server draws it (monitoring/flowmap_layout.py); this adds what needs a browser.
 *
 * - Pan and zoom by changing the SVG's viewBox: buttons, the mouse wheel, dragging, and the keyboard
 *   (+/− zoom, arrow keys pan, 0 fits the whole map) when the map or anything in it has the focus.
 * - A popover with a system's or a flow's last run and freshness on hover and on keyboard focus (the
 *   <title> elements say the same to screen readers and without JavaScript).
 * - Alt+click (or Shift+click) on a system opens its impact analysis (?impact=<id>, filters kept).
 * - Live colours: when a run of a drawn flow ends (the "run.progress" event hub.js dispatches as
 *   "hub:run.progress"), /map/state.json is fetched and every flow's state class, title and table row
 *   updated in place — register, then apply: once more on every (re)subscription to catch up.
 */
(function () {
  "use strict";
  const canvas = document.getElementById("flow-map");
  const svg = document.getElementById("flow-map-svg");
  if (!canvas || !svg) return;
  const STATES = ["healthy", "stale", "failing", "paused", "never"];
  const HEALTHS = ["up", "degraded", "down", "unknown"];
  const ACTIVE = ["queued", "running"];
  const REFRESH_MIN_INTERVAL = 800; // ms between two fetches of the state

  // --- pan and zoom -------------------------------------------------------------------------------

  const full = svg.viewBox.baseVal;
  const home = { x: full.x, y: full.y, w: full.width, h: full.height };
  let view = Object.assign({}, home);
  const MIN_W = 160;
  const MAX_W = home.w * 3;

  canvas.classList.add("fm-interactive");
  const zoomButtons = document.querySelector(".fm-zoom");
  if (zoomButtons) zoomButtons.classList.remove("d-none");
  svg.removeAttribute("width");
  svg.removeAttribute("height");

  // As tall as the map needs at this width (no empty bands), within the stylesheet's limits.
  function fitHeight() {
    const wanted = (canvas.clientWidth * home.h) / home.w;
    canvas.style.height = Math.round(Math.max(320, Math.min(wanted + 8, window.innerHeight * 0.72))) + "px";
  }
  fitHeight();
  window.addEventListener("resize", fitHeight);

  function apply() {
    svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].map((v) => Math.round(v * 10) / 10).join(" "));
  }

  // The user-space point under a client position (the viewBox is letterboxed: preserveAspectRatio meet).
  function toUser(clientX, clientY) {
    const ctm = svg.getScreenCTM();
    if (!ctm) return { x: view.x + view.w / 2, y: view.y + view.h / 2 };
    const p = new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse());
    return { x: p.x, y: p.y };
  }

  function zoom(factor, centre) {
    const w = Math.min(MAX_W, Math.max(MIN_W, view.w / factor));
    const real = view.w / w;
    const c = centre || { x: view.x + view.w / 2, y: view.y + view.h / 2 };
    view = { x: c.x - (c.x - view.x) / real, y: c.y - (c.y - view.y) / real, w: w, h: view.h / real };
    apply();
  }

  function pan(dx, dy) {
    view.x += dx * view.w;
    view.y += dy * view.h;
    apply();
  }

  function reset() {
    view = Object.assign({}, home);
    apply();
  }

  document.querySelectorAll("[data-map-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      const what = button.dataset.mapZoom;
      if (what === "in") zoom(1.4);
      else if (what === "out") zoom(1 / 1.4);
      else reset();
    });
  });

  canvas.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      zoom(ev.deltaY < 0 ? 1.15 : 1 / 1.15, toUser(ev.clientX, ev.clientY));
    },
    { passive: false }
  );

  canvas.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const keys = {
      "+": () => zoom(1.4),
      "=": () => zoom(1.4),
      "-": () => zoom(1 / 1.4),
      "−": () => zoom(1 / 1.4),
      "0": reset,
      ArrowLeft: () => pan(-0.15, 0),
      ArrowRight: () => pan(0.15, 0),
      ArrowUp: () => pan(0, -0.15),
      ArrowDown: () => pan(0, 0.15),
      Escape: hideTip,
    };
    const action = keys[ev.key];
    if (!action) return;
    ev.preventDefault();
    action();
  });

  // Drag to pan; a drag that moved is not a click on the link under it.
  let drag = null;
  let dragged = false;
  canvas.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, view: Object.assign({}, view), id: ev.pointerId };
    dragged = false;
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drag || ev.pointerId !== drag.id) return;
    const dx = ev.clientX - drag.x;
    const dy = ev.clientY - drag.y;
    if (!dragged && Math.hypot(dx, dy) < 5) return;
    if (!dragged) {
      dragged = true;
      canvas.classList.add("fm-dragging");
      canvas.setPointerCapture(ev.pointerId);
      hideTip();
    }
    const ctm = svg.getScreenCTM();
    const scale = ctm ? ctm.a : 1;
    view.x = drag.view.x - dx / scale;
    view.y = drag.view.y - dy / scale;
    apply();
  });
  function endDrag() {
    drag = null;
    canvas.classList.remove("fm-dragging");
  }
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener(
    "click",
    (ev) => {
      if (dragged) {
        ev.preventDefault();
        ev.stopPropagation();
        dragged = false;
        return;
      }
      const node = ev.target.closest(".fm-node-link");
      if (node && (ev.altKey || ev.shiftKey)) {
        ev.preventDefault();
        const params = new URLSearchParams(location.search);
        params.set("impact", node.dataset.node);
        location.search = params.toString();
      }
    },
    true
  );

  // Keyboard focus moves the view to what got it, when it is out of sight.
  svg.addEventListener("focusin", (ev) => {
    const target = ev.target.closest("[data-tip]");
    if (!target) return;
    const box = target.getBBox();
    const inside =
      box.x >= view.x && box.y >= view.y && box.x + box.width <= view.x + view.w && box.y + box.height <= view.y + view.h;
    if (!inside) {
      view.x = box.x + box.width / 2 - view.w / 2;
      view.y = box.y + box.height / 2 - view.h / 2;
      apply();
    }
    showTip(target);
  });
  svg.addEventListener("focusout", hideTip);

  // --- popover ------------------------------------------------------------------------------------

  const popover = document.getElementById("flow-map-popover");

  function showTip(el, clientX, clientY) {
    if (!popover || !el.dataset.tip) return;
    let lines;
    try {
      lines = JSON.parse(el.dataset.tip);
    } catch (e) {
      return;
    }
    const body = popover.querySelector(".card-body");
    body.replaceChildren();
    lines.forEach((line, i) => {
      const div = document.createElement("div");
      div.textContent = line;
      if (i === 0) div.className = "fm-tip-title";
      body.appendChild(div);
    });
    popover.classList.remove("d-none");
    const hostRect = (popover.offsetParent || popover.parentElement).getBoundingClientRect();
    let x, y;
    if (clientX === undefined) {
      const r = el.getBoundingClientRect();
      x = r.left + r.width / 2;
      y = r.bottom;
    } else {
      x = clientX;
      y = clientY;
    }
    const width = popover.offsetWidth;
    let left = x - hostRect.left + 12;
    if (left + width > hostRect.width) left = Math.max(0, x - hostRect.left - width - 12);
    popover.style.left = left + "px";
    popover.style.top = y - hostRect.top + 12 + "px";
  }

  function hideTip() {
    if (popover) popover.classList.add("d-none");
    svg.querySelectorAll(".fm-edge.fm-hover").forEach((el) => el.classList.remove("fm-hover"));
  }

  svg.addEventListener("pointerover", (ev) => {
    if (drag && dragged) return;
    const target = ev.target.closest("[data-tip]");
    if (!target) return;
    showTip(target, ev.clientX, ev.clientY);
    if (target.dataset.edge) {
      const line = document.getElementById("edge-" + target.dataset.edge);
      if (line) line.classList.add("fm-hover");
    }
  });
  svg.addEventListener("pointerout", (ev) => {
    const target = ev.target.closest("[data-tip]");
    if (target && !target.contains(ev.relatedTarget)) hideTip();
  });

  // --- live state ---------------------------------------------------------------------------------

  const drawn = new Set(Array.from(svg.querySelectorAll(".fm-edge[data-edge]"), (el) => el.dataset.edge));

  function setState(el, state) {
    STATES.forEach((s) => el.classList.toggle("fm-state-" + s, s === state));
    el.dataset.state = state;
  }

  function applyState(data) {
    const edges = data.edges || {};
    Object.keys(edges).forEach((id) => {
      if (!drawn.has(id)) return;
      const e = edges[id];
      const line = document.getElementById("edge-" + id);
      const link = document.getElementById("edge-link-" + id);
      if (line) setState(line, e.state);
      if (link) {
        setState(link, e.state);
        link.dataset.tip = JSON.stringify(e.tip || []);
        const title = link.querySelector("title");
        if (title) title.textContent = e.title || "";
      }
      const row = document.querySelector('#flow-map-table tr[data-edge="' + id + '"]');
      if (row) {
        row.dataset.state = e.state;
        const swatch = row.querySelector(".fm-swatch");
        if (swatch) swatch.className = "fm-swatch fm-swatch-" + e.state;
        const label = row.querySelector(".fm-state-label");
        if (label) label.textContent = e.state_label;
        const volume = row.querySelector(".fm-volume");
        if (volume) volume.textContent = e.volume_24h;
        const last = row.querySelector(".fm-last-run");
        if (last) {
          last.replaceChildren();
          if (e.last_run) {
            const a = document.createElement("a");
            a.href = e.last_run.url;
            a.textContent = e.last_run.status;
            last.appendChild(a);
            last.appendChild(document.createTextNode(" · " + e.freshness));
          } else {
            last.textContent = e.last_run_text + " · " + e.freshness;
          }
        }
      }
    });
    const nodes = data.nodes || {};
    Object.keys(nodes).forEach((id) => {
      const dot = svg.querySelector('#node-' + id + ' .fm-health');
      if (!dot) return;
      HEALTHS.forEach((h) => dot.classList.toggle("fm-health-" + h, h === nodes[id].health));
    });
    canvas.dataset.refreshed = String((Number(canvas.dataset.refreshed) || 0) + 1);
  }

  let last = 0;
  let timer = null;
  let inFlight = false;
  let again = false;
  function refresh() {
    const due = last + REFRESH_MIN_INTERVAL - Date.now();
    if (due > 0) {
      if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, due);
      return;
    }
    if (inFlight) {
      again = true;
      return;
    }
    last = Date.now();
    inFlight = true;
    fetch(canvas.dataset.stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (data) applyState(data);
      })
      .catch(() => {})
      .finally(() => {
        inFlight = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  document.body.addEventListener("hub:run.progress", (ev) => {
    const p = (ev.detail && ev.detail.payload) || {};
    if (p.status && ACTIVE.includes(p.status)) return; // only an ending run changes a colour
    if (p.flow !== undefined && !drawn.has(String(p.flow))) return;
    refresh();
  });
  document.body.addEventListener("hub:flow.alert", refresh);
  document.body.addEventListener("hub:system.breaker", refresh);
  document.body.addEventListener("hub:object.changed", (ev) => {
    const model = ev.detail && ev.detail.payload && ev.detail.payload.model;
    if (model === "flows.flow" || model === "flows.system") refresh();
  });
  document.body.addEventListener("hub:subscribed", refresh);
})();
