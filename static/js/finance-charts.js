/* The Finance page's charts. Each <canvas class="finance-chart"> carries its
 * chart as JSON in data-chart: {type, labels, series: [{label, values, line}],
 * stacked, horizontal}. Values are decimal strings (exact in the tables beside
 * each chart); they become numbers here only to be drawn. No inline script, so
 * the page runs under a Content-Security-Policy without 'unsafe-inline'. */
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var COLOURS = ["#0b4f8a", "#1d6b3a", "#a8472a", "#8a5a00", "#55606e"];
  var reduceMotion = window.matchMedia &&
    window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function dataset(series, index, horizontal) {
    var colour = COLOURS[index % COLOURS.length];
    var line = series.line && !horizontal;
    return {
      type: line ? "line" : "bar",
      label: series.label,
      data: series.values.map(Number),
      backgroundColor: colour,
      borderColor: colour,
      borderWidth: line ? 2 : 0,
      order: line ? 0 : 1
    };
  }

  /* Round 58: the rows behind the bar under the pointer, if its series links them
   * (each series' `links`, by bar; the table beside the chart links the same). */
  function linkAt(spec, elements) {
    if (!elements.length) { return null; }
    var series = spec.series[elements[0].datasetIndex];
    var links = (series && series.links) || [];
    return links[elements[0].index] || null;
  }

  function draw(canvas) {
    var spec = JSON.parse(canvas.dataset.chart);
    var horizontal = Boolean(spec.horizontal);
    var ticks = spec.counts ? { precision: 0 } : {};
    var axes = {
      x: { stacked: Boolean(spec.stacked), beginAtZero: true, ticks: horizontal ? ticks : {} },
      y: { stacked: Boolean(spec.stacked), beginAtZero: true, ticks: horizontal ? {} : ticks }
    };
    canvas.chart = new Chart(canvas, {
      type: spec.type || "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (series, index) {
          return dataset(series, index, horizontal);
        })
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: reduceMotion ? false : { duration: 300 },
        scales: axes,
        plugins: { legend: { display: spec.series.length > 1, position: "bottom" } },
        onClick: function (event, elements) {
          var url = linkAt(spec, elements);
          if (url) { window.location.assign(url); }
        },
        onHover: function (event, elements) {
          canvas.style.cursor = linkAt(spec, elements) ? "pointer" : "default";
        }
      }
    });
    canvas.dataset.drawn = "true";
  }

  document.querySelectorAll("canvas.finance-chart").forEach(draw);
}());
