// The dashboard's only script: the live stream (Server-Sent Events) and the charts.
// Each live part of a page names the topics it shows (data-live), optionally its station
// (data-station) or stations (data-stations), and where to fetch it again (data-src). An event batch from /events names
// the topics and stations that changed; the parts concerned are fetched again (one request at
// a time per part; changes during a request fetch it once more afterwards). On the overview the
// batch also carries the figures themselves (data-figure name -> text): they are written into
// the page's [data-figures] section, with no request.
(function () {
  "use strict";

  function matches(el, batch) {
    var topics = (el.dataset.live || "").split(" ");
    var hit = batch.topics.indexOf("*") >= 0 || topics.some(function (t) {
      return batch.topics.indexOf(t) >= 0;
    });
    if (!hit || batch.stations === null) return hit;
    // a part about some stations (one, or a page of the list) only when one of them changed
    var mine = (el.dataset.station || el.dataset.stations || "").split(" ").filter(Boolean);
    return !mine.length || mine.some(function (id) { return batch.stations.indexOf(id) >= 0; });
  }

  // A part is fetched at most once a second (the first change at once, later ones together
  // at the end of that second), so a busy network costs each open page one request a second.
  var MIN_INTERVAL = 1000;
  var busy = {};
  var again = {};
  var last = {};

  function refresh(id) {
    var el = document.getElementById(id);
    if (!el) return;
    if (busy[id]) { again[id] = true; return; }
    var wait = (last[id] || 0) + MIN_INTERVAL - Date.now();
    if (wait > 0) {
      busy[id] = true;
      setTimeout(function () { busy[id] = false; refresh(id); }, wait);
      return;
    }
    busy[id] = true;
    last[id] = Date.now();
    // a request cut short (the page left, the node gone) rejects: the next change fetches again
    var request = htmx.ajax("GET", el.dataset.src, { target: "#" + id, swap: "outerHTML" });
    request.catch(function () {}).then(function () {
      busy[id] = false;
      drawCharts(document.getElementById(id) || document);
      document.body.dataset.refreshed = String(Date.now());
      if (again[id]) { again[id] = false; refresh(id); }
    });
  }

  function showFigures(figures) {
    document.querySelectorAll("[data-figures] [data-figure]").forEach(function (el) {
      var text = figures[el.dataset.figure];
      if (typeof text === "string" && el.textContent !== text) el.textContent = text;
    });
    document.querySelectorAll("[data-figures] [data-alert-when]").forEach(function (el) {
      var text = figures[el.dataset.alertWhen];
      if (typeof text === "string") el.classList.toggle("alert", text !== "0");
    });
    document.body.dataset.figuresAt = String(Date.now());
  }

  function connect() {
    var live = document.getElementById("live");
    var url = document.body.dataset.stream;
    if (!url || !window.EventSource) return;
    var source = new EventSource(url);
    source.onopen = function () {
      if (live) { live.textContent = "● " + live.dataset.liveLabel; live.className = "live on"; }
      // what changed between the page's rendering (or the last stream) and this stream's
      // start was told to no one: every live part is fetched once
      document.querySelectorAll("[data-live][id]").forEach(function (el) { refresh(el.id); });
      document.body.dataset.streamState = "open";
    };
    source.onerror = function () {
      if (live) { live.textContent = "○ " + live.dataset.offLabel; live.className = "live off"; }
      document.body.dataset.streamState = "closed";
    };
    source.addEventListener("change", function (msg) {
      var batch = JSON.parse(msg.data);
      if (batch.figures) showFigures(batch.figures);
      document.querySelectorAll("[data-live][id]").forEach(function (el) {
        if (matches(el, batch)) refresh(el.id);
      });
    });
  }

  var palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

  // the axes' times in the operator's time zone (as every time the server renders), not the
  // browser's
  function tzDate(ts) {
    var zone = document.body.dataset.tz;
    return zone ? uPlot.tzDate(new Date(ts * 1e3), zone) : new Date(ts * 1e3);
  }

  function drawCharts(root) {
    if (!window.uPlot) return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.dataset.source);
      if (!source) return;
      var data = JSON.parse(source.textContent);
      el.innerHTML = "";
      var width = Math.max(300, el.clientWidth || 600);
      if (el.dataset.chart === "price") {
        var opts = {
          width: width, height: 220, tzDate: tzDate,
          series: [{}, { label: "R$/kWh", stroke: "#1f77b4", width: 2, paths: uPlot.paths.stepped({ align: 1 }) },
                   { label: "ponta", stroke: "#d62728", fill: "rgba(214,39,40,0.15)", scale: "peak",
                     paths: uPlot.paths.stepped({ align: 1 }) }],
          scales: { peak: { range: [0, 1] } },
          axes: [{}, { label: "R$/kWh" }, { show: false, scale: "peak" }]
        };
        new uPlot(opts, [data.x, data.price, data.peak], el);
        return;
      }
      if (!data.x.length) { el.textContent = "–"; el.dataset.points = "0"; return; }
      var series = [{}];
      var columns = [data.x];
      data.series.forEach(function (s, i) {
        var percent = s.label.indexOf("%") >= 0;
        series.push({ label: s.label, stroke: palette[i % palette.length], width: 2,
                      scale: percent ? "%" : "k", spanGaps: true });
        columns.push(s.values);
      });
      new uPlot({ width: width, height: 260, series: series, tzDate: tzDate,
                  axes: [{}, { scale: "k" }, { scale: "%", side: 1, grid: { show: false } }] },
                columns, el);
      el.dataset.points = String(data.x.length);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    connect();
  });
})();
