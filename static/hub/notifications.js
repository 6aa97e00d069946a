/* The navbar bell: the unread count and the latest notifications, kept live.
 *
 * The server renders the first state; each "hub:notification.new" event (sent to this user's group
 * only) carries the new notification and the user's unread count, which replaces the badge's number
 * (an event delivered twice does not count twice). The dropdown keeps the five newest.
 */
(function () {
  "use strict";

  const MAX_ITEMS = 5;

  function bell() {
    return document.getElementById("notification-bell");
  }

  function setCount(root, n) {
    const badge = root.querySelector(".notification-count");
    root.dataset.unread = String(n);
    if (badge) {
      badge.textContent = n > 99 ? "99+" : String(n);
      badge.hidden = n <= 0;
    }
    const label = root.querySelector(".notification-count-label");
    if (label) label.textContent = label.textContent.replace(/\d+/, String(n));
  }

  function addItem(root, payload) {
    const list = root.querySelector(".notification-items");
    if (!list || list.querySelector('[data-notification="' + payload.id + '"]')) return;
    const empty = list.querySelector(".notification-empty");
    if (empty) empty.remove();
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.className = "dropdown-item text-wrap fw-semibold";
    a.dataset.notification = String(payload.id);
    a.href = payload.url || root.querySelector("a[href]")?.getAttribute("href") || "#";
    a.textContent = payload.title;  // text, never HTML: titles hold names typed by users
    const when = document.createElement("span");
    when.className = "small text-body-secondary d-block";
    when.textContent = (payload.created || "").replace("T", " ").slice(0, 16);
    a.appendChild(when);
    li.appendChild(a);
    list.prepend(li);
    while (list.children.length > MAX_ITEMS) list.lastElementChild.remove();
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.body.addEventListener("hub:notification.new", (ev) => {
      const root = bell();
      const payload = (ev.detail && ev.detail.payload) || {};
      if (!root || !payload.id) return;
      const current = parseInt(root.dataset.unread || "0", 10) || 0;
      setCount(root, typeof payload.unread === "number" ? payload.unread : current + 1);
      addItem(root, payload);
    });
    document.body.addEventListener("hub:notifications-read", () => {
      const root = bell();
      if (root) setCount(root, 0);
    });
  });
})();
