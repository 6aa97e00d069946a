/* Dashboard: re-render the system tiles from the server when a system changes, and once subscribed
 * (catches changes made between the page's render and its subscription, or during a disconnection). */
(function () {
  "use strict";
  function refresh() {
    if (window.htmx) htmx.trigger(document.body, "hub-refresh-tiles");
  }
  document.body.addEventListener("hub:object.changed", (ev) => {
    if (ev.detail.payload && ev.detail.payload.model === "flows.system") refresh();
  });
  document.body.addEventListener("hub:system.breaker", refresh);
  document.body.addEventListener("hub:access.changed", refresh);
  document.body.addEventListener("hub:subscribed", refresh);
})();
