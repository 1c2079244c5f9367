// Draws a patient's progress on the admin patient page from /api/v1/patients/<id>/progress/.
// Strength and pain per side over time, then each outcome measure with its MCID flags,
// so a therapist sees at a glance whether the patient is improving.
(function () {
  "use strict";
  const panel = document.querySelector("[data-progress-url]");
  if (!panel || !window.Chart) { return; }
  const colours = { left: "#0d6efd", right: "#d63384", other: "#198754", grey: "#6c757d" };

  function line(canvas, labels, datasets, yOptions) {
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, spanGaps: true,
        scales: { y: yOptions || {} },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  function series(label, colour, values, extra) {
    return Object.assign({ label: label, data: values, borderColor: colour, backgroundColor: colour, tension: 0.2 }, extra || {});
  }

  function draw(data) {
    const summary = panel.querySelector(".progress-summary");
    data.summary.forEach(function (text) {
      const item = document.createElement("li");
      item.textContent = text;
      item.className = text.indexOf("change that matters") >= 0 ? "mcid" : "below";
      summary.appendChild(item);
    });
    const nothing = !data.strength.length && !data.pain.length && !Object.keys(data.measures).length;
    panel.querySelector(".progress-empty").hidden = !nothing;
    if (nothing) { panel.querySelector(".progress-charts").hidden = true; return; }

    const dates = data.strength.map(function (p) { return p.date; });
    line(document.getElementById("chart-strength"), dates, [
      series("Left", colours.left, data.strength.map(function (p) { return p.left_grade_value; })),
      series("Right", colours.right, data.strength.map(function (p) { return p.right_grade_value; })),
    ], { min: 0, max: 5, title: { display: true, text: "grade" } });
    line(document.getElementById("chart-newtons"), dates, [
      series("Left (N)", colours.left, data.strength.map(function (p) { return p.left_newtons; })),
      series("Right (N)", colours.right, data.strength.map(function (p) { return p.right_newtons; })),
      series("Symmetry (%)", colours.grey, data.strength.map(function (p) { return p.limb_symmetry_index; }),
             { borderDash: [6, 4] }),
    ], { min: 0 });
    line(document.getElementById("chart-pain"), data.pain.map(function (p) { return p.date; }), [
      series("Pain now", colours.other, data.pain.map(function (p) { return p.now; })),
      series("Worst in the last week", colours.grey, data.pain.map(function (p) { return p.worst_week; })),
    ], { min: 0, max: 10 });

    const holder = panel.querySelector(".progress-measures");
    Object.keys(data.measures).forEach(function (key) {
      const measure = data.measures[key];
      const figure = document.createElement("figure");
      const caption = document.createElement("figcaption");
      caption.textContent = measure.label + " (" + measure.minimum + "-" + measure.maximum + ", " +
        (measure.higher_is_better ? "higher" : "lower") + " is better; filled points reached the MCID)";
      const canvas = document.createElement("canvas");
      canvas.id = "chart-" + key;
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", measure.label + " over time");
      const box = document.createElement("div");
      box.className = "chart-box";
      box.appendChild(canvas);
      figure.appendChild(caption);
      figure.appendChild(box);
      holder.appendChild(figure);
      const points = measure.points;
      line(canvas, points.map(function (p) { return p.date; }), [
        series(measure.label, colours.other, points.map(function (p) { return p.score; }), {
          pointRadius: points.map(function (p) { return p.change && p.change.mcid_reached ? 7 : 4; }),
          pointBackgroundColor: points.map(function (p) { return p.change && p.change.mcid_reached ? colours.other : "#fff"; }),
        }),
      ], { min: measure.minimum, max: measure.maximum });
    });
    panel.setAttribute("data-drawn", "true");
  }

  fetch(panel.getAttribute("data-progress-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
    .then(draw)
    .catch(function () { panel.querySelector(".progress-empty").hidden = false;
      panel.querySelector(".progress-empty").textContent = "The progress chart could not be loaded."; });
})();
