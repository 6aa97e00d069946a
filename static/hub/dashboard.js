/* Dashboard: the server renders the first state; events are then applied (register, then apply).
 *
 * - run.progress moves a running sync's bar in place from the event's payload (no fetch per event);
 *   an unknown run re-renders the running-syncs section once; a run that ends leaves it, and the
 *   flows table, the failures feed and the charts are re-fetched, throttled.
 * - system events re-render the system tiles.
 * - after a reconnection ("hub:subscribed" with reconnected) every section is re-fetched once.
 */
(function () {
  "use strict";
  const ACTIVE = ["queued", "running"];
  const CHART_MIN_INTERVAL = 4000; // ms between two chart refreshes
  const SECTION_MIN_INTERVAL = 1500; // ms between two fetches of one section

  function trigger(name) {
    if (window.htmx) window.htmx.trigger(document.body, name);
  }

  // At most one call per `wait` ms; a call inside the window runs once when it ends.
  function throttle(fn, wait) {
    let last = 0;
    let timer = null;
    return function () {
      const due = last + wait - Date.now();
      if (due <= 0) {
        last = Date.now();
        fn();
      } else if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          last = Date.now();
          fn();
        }, due);
      }
    };
  }

  const refreshTiles = throttle(() => trigger("hub-refresh-tiles"), SECTION_MIN_INTERVAL);
  const refreshRunning = throttle(() => trigger("hub-refresh-running"), SECTION_MIN_INTERVAL);
  const refreshFlows = throttle(() => trigger("hub-refresh-flows"), SECTION_MIN_INTERVAL);
  const refreshFailures = throttle(() => trigger("hub-refresh-failures"), SECTION_MIN_INTERVAL);
  const refreshWorkers = throttle(() => trigger("hub-refresh-workers"), SECTION_MIN_INTERVAL);

  function format(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, (m, key) => (values[key] === undefined ? m : values[key]));
  }

  // Like the server's duration_short filter, with its translated formats ("%(m)s min %(s)s s").
  function duration(seconds, box) {
    seconds = Math.max(0, Math.round(seconds));
    const values = { h: Math.floor(seconds / 3600), m: Math.floor((seconds % 3600) / 60), s: seconds % 60 };
    const fmt = values.h ? box.dataset.fmtHours : values.m ? box.dataset.fmtMinutes : box.dataset.fmtSeconds;
    return (fmt || "%(s)s s").replace(/%\((\w)\)s/g, (m, key) => values[key]);
  }

  // --- running syncs -----------------------------------------------------------------------------

  const asked = new Map(); // run id → when its row was last asked for
  const ASK_AGAIN_AFTER = 10000;

  function applyProgress(p) {
    const box = document.getElementById("running-syncs");
    if (!box) return;
    const row = box.querySelector(`.running-sync[data-run="${p.run}"]`);
    const active = ACTIVE.includes(p.status);
    if (!row) {
      // A new run: its row (flow name, link) comes from the server — asked once per run, not per event
      // (events keep coming while that fetch is on its way); again only if it still lacks it 10 s later.
      if (active) {
        const now = Date.now();
        if (!(asked.get(p.run) > now - ASK_AGAIN_AFTER)) {
          asked.set(p.run, now);
          refreshRunning();
        }
      } else {
        asked.delete(p.run);
        runEnded();
      }
      return;
    }
    if (!active) {
      asked.delete(p.run);
      row.remove();
      box.querySelector(".running-empty").classList.toggle("d-none", !!box.querySelector(".running-sync"));
      runEnded();
      return;
    }
    const counters = p.counters || {};
    row.dataset.status = p.status;
    row.dataset.read = counters.read || 0;
    row.dataset.pages = p.pages || 0;
    const badge = row.querySelector(".run-status");
    if (badge && badge.dataset.status !== p.status) {
      badge.dataset.status = p.status;
      badge.textContent = box.dataset["label" + p.status.charAt(0).toUpperCase() + p.status.slice(1)] || p.status;
      badge.classList.toggle("text-bg-primary", p.status === "running");
      badge.classList.toggle("text-bg-secondary", p.status !== "running");
    }
    const bar = row.querySelector("progress");
    if (bar) {
      if (p.percent === null || p.percent === undefined) {
        bar.removeAttribute("value"); // indeterminate: the source gave no count
        bar.textContent = "";
      } else {
        bar.value = p.percent;
        bar.textContent = p.percent + " %";
      }
    }
    const parts = [
      p.expected
        ? format(box.dataset.fmtOf, { read: counters.read || 0, expected: p.expected })
        : format(box.dataset.fmtRead, { read: counters.read || 0 }),
      format(box.dataset.fmtPages, { pages: p.pages || 0 }),
    ];
    if (p.rate) parts.push(format(box.dataset.fmtRate, { rate: Math.round(p.rate) }));
    if (p.eta_seconds !== null && p.eta_seconds !== undefined) {
      parts.push(format(box.dataset.fmtEta, { eta: duration(p.eta_seconds, box) }));
    }
    const detail = row.querySelector(".run-detail");
    if (detail) detail.textContent = parts.join(" · ");
  }

  function runEnded() {
    refreshFlows();
    refreshFailures();
    refreshWorkers();
    refreshChart();
  }

  // --- charts ------------------------------------------------------------------------------------

  const chartCard = document.getElementById("dashboard-charts");
  let chart = null;
  let chartState = { window: "24h", flow: "" };

  function chartData() {
    const el = document.getElementById("dashboard-series");
    return el ? JSON.parse(el.textContent) : null;
  }

  function renderTable(series) {
    const body = document.querySelector("#chart-table tbody");
    if (!body) return;
    body.replaceChildren();
    // Newest first: the hours people look at are the recent ones.
    for (let i = series.hours.length - 1; i >= 0; i--) {
      if (!series.synced[i] && !series.failed[i]) continue;
      const tr = document.createElement("tr");
      const cells = [
        series.labels[i],
        series.synced[i],
        series.failed[i],
        series.error_rate[i] === null ? "—" : series.error_rate[i] + " %",
      ];
      cells.forEach((value, j) => {
        const cell = document.createElement(j === 0 ? "th" : "td");
        if (j === 0) cell.scope = "row";
        else cell.className = "text-end";
        cell.textContent = value;
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    }
  }

  function renderChart(series) {
    if (!chartCard || !series) return;
    const d = chartCard.dataset;
    const totals = series.totals || {};
    const summary = document.getElementById("chart-summary");
    summary.textContent = format(d.fmtSummary, {
      synced: totals.synced || 0,
      failed: totals.failed || 0,
      rate: totals.error_rate === null || totals.error_rate === undefined ? d.labelNone : totals.error_rate + " %",
    });
    chartCard.dataset.synced = totals.synced || 0;
    chartCard.dataset.window = series.window;
    renderTable(series);
    if (!window.Chart) return;
    const datasets = [
      { type: "bar", label: d.labelSynced, data: series.synced, backgroundColor: "#0d52aa", yAxisID: "y", stack: "r" },
      { type: "bar", label: d.labelFailed, data: series.failed, backgroundColor: "#b02a37", yAxisID: "y", stack: "r" },
      {
        type: "line", label: d.labelErrorRate, data: series.error_rate, borderColor: "#8a4b08",
        backgroundColor: "#8a4b08", yAxisID: "rate", spanGaps: true, pointRadius: 2, tension: 0.2,
      },
    ];
    if (chart) {
      chart.data.labels = series.labels;
      chart.data.datasets.forEach((set, i) => { set.data = datasets[i].data; });
      chart.update("none");
      return;
    }
    chart = new window.Chart(document.getElementById("records-chart"), {
      data: { labels: series.labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, ticks: { autoSkip: true, maxTicksLimit: 12 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
          rate: { position: "right", beginAtZero: true, suggestedMax: 10, grid: { drawOnChartArea: false } },
        },
      },
    });
  }

  function fetchChart() {
    if (!chartCard) return;
    const params = new URLSearchParams({ sections: "series", window: chartState.window });
    if (chartState.flow) params.set("flow", chartState.flow);
    fetch(`${chartCard.dataset.url}?${params}`, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => { if (data && data.series) renderChart(data.series); })
      .catch(() => {});
  }
  const refreshChart = throttle(fetchChart, CHART_MIN_INTERVAL);

  if (chartCard) {
    renderChart(chartData());
    document.querySelectorAll("input[name=chart-window]").forEach((input) => {
      input.addEventListener("change", () => {
        chartState.window = input.value;
        fetchChart();
      });
    });
    const select = document.getElementById("chart-flow");
    if (select) {
      select.addEventListener("change", () => {
        chartState.flow = select.value;
        fetchChart();
      });
    }
  }

  // --- events ------------------------------------------------------------------------------------

  document.body.addEventListener("hub:run.progress", (ev) => applyProgress((ev.detail && ev.detail.payload) || {}));
  document.body.addEventListener("hub:object.changed", (ev) => {
    const model = ev.detail.payload && ev.detail.payload.model;
    if (model === "flows.system") refreshTiles();
    if (model === "flows.flow") refreshFlows();
  });
  document.body.addEventListener("hub:system.breaker", refreshTiles);
  document.body.addEventListener("hub:flow.alert", refreshFlows);
  document.body.addEventListener("hub:access.changed", () => {
    refreshTiles();
    refreshRunning();
    refreshFlows();
    refreshFailures();
    refreshChart();
  });
  document.body.addEventListener("hub:subscribed", (ev) => {
    // The first subscription catches what changed between the render and now; a reconnection what
    // changed while the page was offline. Either way: every section once.
    refreshTiles();
    refreshRunning();
    if (ev.detail && ev.detail.reconnected) {
      refreshFlows();
      refreshFailures();
      refreshWorkers();
      refreshChart();
    }
  });
})();
