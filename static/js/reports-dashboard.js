// Draws the dashboard's charts from the figures the page carries (json_script #report-charts):
// the share of discharged patients reaching the MCID per measure, and the attendance rates.
// Each canvas has its figures in a table on the page too; it is marked data-drawn once drawn.
(function () {
  "use strict";
  const source = document.getElementById("report-charts");
  if (!source || !window.Chart) { return; }
  const data = JSON.parse(source.textContent);
  const colours = { outcomes: "#198754", attendance: "#0d6efd" };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    const name = canvas.getAttribute("data-chart");
    const series = data[name];
    if (!series) { return; }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [{
          label: "Per cent",
          // A share with nothing to divide by is null: no bar, never a misleading 0.
          data: series.values.map(function (v) { return v === null ? null : Math.round(v * 1000) / 10; }),
          backgroundColor: colours[name],
        }],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } },
        plugins: { legend: { display: false } },
      },
    });
    canvas.setAttribute("data-drawn", "true");
  });
})();
