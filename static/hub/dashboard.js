/* Dashboard: re-render the system tiles from the server when a system changes or after a reconnect. */
(function () {
  "use strict";
  function refresh() {
    if (window.htmx) htmx.trigger(document.body, "hub-refresh-tiles");
  }
  document.body.addEventListener("hub:object.changed", (ev) => {
    if (ev.detail.payload && ev.detail.payload.model === "flows.system") refresh();
  });
  document.body.addEventListener("hub:access.changed", refresh);
  document.body.addEventListener("hub:reconnected", refresh);
})();
