// Draws report.html's charts with the embedded Chart.js from the JSON in
// #gauntlet-data. Every canvas[data-chart] gets data-drawn="true" once
// pixels were painted on it ("false" if none, "error" with data-error if
// drawing threw), and <body> gets data-charts and data-charts-drawn, so a
// test (or a person) can check that every chart was drawn.
(function () {
  "use strict";
  var Chart = window.Chart;
  var data = JSON.parse(document.getElementById("gauntlet-data").textContent);
  var css = getComputedStyle(document.documentElement);

  function tone(name) { return css.getPropertyValue("--" + name).trim(); }
  function alpha(hex, a) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) { return hex; }
    return "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + a + ")";
  }

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = tone("muted");
  Chart.defaults.borderColor = tone("grid");
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.legend.position = "top";
  Chart.defaults.plugins.legend.align = "end";
  Chart.defaults.plugins.legend.labels.boxWidth = 10;
  Chart.defaults.plugins.legend.labels.boxHeight = 10;
  Chart.defaults.plugins.tooltip.backgroundColor = "rgba(23,32,44,.92)";
  Chart.defaults.plugins.tooltip.padding = 8;

  function axisTitle(text) { return { display: !!text, text: text, color: tone("faint") }; }
  function countAxis(title) {
    return { beginAtZero: true, ticks: { precision: 0 }, title: axisTitle(title), grid: { color: tone("grid") } };
  }
  function noGrid(title) { return { grid: { display: false }, title: axisTitle(title) }; }
  function timeAxis(title) {
    return { grid: { display: false }, title: axisTitle(title), ticks: { maxRotation: 0, autoSkipPadding: 16 } };
  }

  function histogram(d, color, xTitle, yTitle) {
    return {
      type: "bar",
      data: {
        labels: d.labels,
        datasets: [{ label: yTitle, data: d.counts, backgroundColor: alpha(color, 0.85), hoverBackgroundColor: color,
          borderRadius: 3, categoryPercentage: 0.92, barPercentage: 1 }]
      },
      options: {
        plugins: { legend: { display: false } },
        scales: { x: noGrid(xTitle), y: countAxis(yTitle) }
      }
    };
  }

  var builders = {
    load: function () {
      var t = data.timeline;
      return {
        type: "bar",
        data: {
          labels: t.labels,
          datasets: [
            { type: "line", label: "in progress (mean)", data: t.active, borderColor: tone("c1"), backgroundColor: alpha(tone("c1"), 0.12),
              fill: true, borderWidth: 2, pointRadius: 0, order: 0 },
            { type: "bar", label: "started", data: t.started, backgroundColor: alpha(tone("c2"), 0.55), order: 1,
              categoryPercentage: 0.9, barPercentage: 0.9 },
            { type: "bar", label: "failed", data: t.failed, backgroundColor: tone("bad-strong"), order: 1,
              categoryPercentage: 0.9, barPercentage: 0.9 }
          ]
        },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: { x: timeAxis(t.x_title), y: countAxis("calls") }
        }
      };
    },
    quality: function () {
      var t = data.timeline;
      return {
        type: "line",
        data: {
          labels: t.labels,
          datasets: [
            { label: "MOS", data: t.mos, borderColor: tone("c2"), backgroundColor: tone("c2"), yAxisID: "y",
              borderWidth: 2, pointRadius: 3, spanGaps: true },
            { label: "loss %", data: t.loss, borderColor: tone("c3"), backgroundColor: tone("c3"), yAxisID: "y1",
              borderWidth: 2, pointRadius: 3, pointStyle: "rectRot", spanGaps: true }
          ]
        },
        options: {
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { labels: { usePointStyle: true } } },
          scales: {
            x: timeAxis(t.x_title),
            y: { suggestedMin: 3.5, suggestedMax: 4.5, title: axisTitle("MOS"), grid: { color: tone("grid") } },
            y1: { position: "right", beginAtZero: true, suggestedMax: 1, title: axisTitle("loss %"), grid: { display: false } }
          }
        }
      };
    },
    phases: function () {
      var p = data.phases;
      return {
        type: "bar",
        data: {
          labels: p.labels,
          datasets: [
            { label: "p50", data: p.p50, backgroundColor: tone("c1"), borderRadius: 3 },
            { label: "p95", data: p.p95, backgroundColor: alpha(tone("c1"), 0.4), borderRadius: 3 }
          ]
        },
        options: {
          indexAxis: "y",
          scales: { x: { beginAtZero: true, title: axisTitle("ms"), grid: { color: tone("grid") } }, y: { grid: { display: false } } }
        }
      };
    },
    setup: function () { return histogram(data.setup, tone("c1"), "ms, dial to first audio", "calls"); },
    mos: function () { return histogram(data.mos, tone("c2"), "MOS (lowest direction of each call)", "calls"); },
    loss: function () { return histogram(data.loss, tone("c3"), "loss %", "directions"); },
    jitter: function () { return histogram(data.jitter, tone("c4"), "jitter ms", "directions"); },
    ice: function () {
      var d = data.ice;
      return {
        type: "doughnut",
        data: {
          labels: d.labels,
          datasets: [{ data: d.counts, backgroundColor: d.tones.map(tone), borderColor: tone("card"), borderWidth: 2 }]
        },
        options: { cutout: "62%", plugins: { legend: { position: "right", align: "center" } } }
      };
    },
    failures: function () {
      var d = data.failures;
      return {
        type: "bar",
        data: { labels: d.labels, datasets: [{ label: "failed", data: d.counts, backgroundColor: tone("bad-strong"), borderRadius: 3, maxBarThickness: 26 }] },
        options: {
          indexAxis: "y",
          plugins: { legend: { display: false } },
          scales: { x: countAxis("records"), y: { grid: { display: false } } }
        }
      };
    }
  };

  // paintedPixels counts the canvas pixels that are not fully transparent.
  function paintedPixels(canvas) {
    var ctx = canvas.getContext("2d");
    if (!canvas.width || !canvas.height) { return 0; }
    var px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    var n = 0;
    for (var i = 3; i < px.length; i += 4) {
      if (px[i] !== 0) { n++; }
    }
    return n;
  }

  var canvases = document.querySelectorAll("canvas[data-chart]");
  var drawn = 0;
  Array.prototype.forEach.call(canvases, function (el) {
    try {
      var build = builders[el.getAttribute("data-chart")];
      if (!build) { throw new Error("no chart named " + el.getAttribute("data-chart")); }
      new Chart(el, build());
      var n = paintedPixels(el);
      el.setAttribute("data-painted-pixels", String(n));
      el.setAttribute("data-drawn", n > 0 ? "true" : "false");
      if (n > 0) { drawn++; }
    } catch (e) {
      el.setAttribute("data-drawn", "error");
      el.setAttribute("data-error", String(e && e.message ? e.message : e));
    }
  });
  document.body.setAttribute("data-charts", String(canvases.length));
  document.body.setAttribute("data-charts-drawn", String(drawn));
}());
