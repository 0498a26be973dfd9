// Statistics of a college's exams: score histogram, facility and discrimination per question,
// pass rate over time (Chart.js, vendored), each chart with a table giving the same numbers.

import { collegeOptions, field, h, number, percent, table } from "./dom.js";

const ACCENT = "#0b4f9c";
const SECOND = "#1b6e2f";
const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

function chartCanvas(id, title, description) {
  const canvas = h("canvas", { id, role: "img", "aria-label": description });
  return { canvas, figure: h("figure", { class: "chart" }, h("figcaption", {}, title), h("div", { class: "chart-box" }, canvas)) };
}

function barChart(canvas, labels, data, { label, color = ACCENT, yMax, yMin } = {}) {
  return new window.Chart(canvas, {
    type: "bar",
    data: { labels, datasets: [{ label, data, backgroundColor: color }] },
    options: {
      animation: reducedMotion() ? false : { duration: 300 },
      maintainAspectRatio: false,
      scales: { y: { min: yMin, max: yMax, beginAtZero: true } },
      plugins: { legend: { display: false } },
    },
  });
}

export async function renderStatistics(ctx, container) {
  const colleges = await ctx.ui.busy("Loading…", ctx.colleges());
  const college = h("select", { id: "stats-college" },
    collegeOptions(colleges, ctx.api.user.college_type ?? colleges[0]?.code));
  const since = h("input", { id: "stats-since", type: "date" });
  const until = h("input", { id: "stats-until", type: "date" });
  const period = h("select", { id: "stats-period" }, new Option("Week", "week"), new Option("Month", "month"));
  const output = h("div", { id: "stats-output" });
  const form = h("form", { class: "filters" }, field("College", college), field("From", since), field("Until", until),
    field("Pass rate per", period), h("button", { type: "submit", class: "primary" }, "Show statistics"));
  container.append(h("section", { class: "card", "aria-labelledby": "stats-title" },
    h("h2", { id: "stats-title" }, "Statistics"), form), output);

  let charts = [];
  const destroy = () => { for (const chart of charts) chart.destroy(); charts = []; };

  async function load() {
    if (!window.Chart) throw new Error("The charting library did not load; reload the page.");
    const stats = await ctx.ui.busy("Computing statistics…", ctx.api.request(
      `/api/v1/statistics/${encodeURIComponent(college.value)}`, {
        query: { since: since.value || null, until: until.value || null, period: period.value },
        what: "Loading the statistics",
      }));
    destroy();
    output.replaceChildren(...renderAll(stats, (chart) => charts.push(chart)));
    ctx.ui.status(`Statistics for ${college.selectedOptions[0]?.text ?? college.value}.`);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.ui.clearError();
    load().catch((error) => ctx.ui.error(error.message));
  });
  await load();
  return destroy;
}

function renderAll(stats, keep) {
  const test = stats.test ?? {};
  const items = stats.items ?? [];
  const passRates = stats.pass_rate ?? [];
  const histogram = test.histogram ?? [];
  const itemLabel = (item) => `Q${item.scenario_id}.${item.question_number}`;

  const hist = chartCanvas("histogram-chart", "Score distribution",
    `Histogram of total scores: ${histogram.map((b) => `${b.label}: ${b.count}`).join(", ")}`);
  const facility = chartCanvas("facility-chart", "Facility per question (mean score ÷ maximum)",
    `Facility per question: ${items.map((i) => `${itemLabel(i)} ${number(i.facility, 2)}`).join(", ")}`);
  const discrimination = chartCanvas("discrimination-chart", "Discrimination per question (item vs rest-of-test correlation)",
    `Discrimination per question: ${items.map((i) => `${itemLabel(i)} ${number(i.discrimination, 2)}`).join(", ")}`);
  const pass = chartCanvas("pass-rate-chart", "Pass rate over time",
    `Pass rate: ${passRates.map((p) => `${p.period} ${percent((p.rate ?? 0) * 100)}`).join(", ")}`);

  const sections = [
    h("section", { class: "card", "aria-labelledby": "test-title" },
      h("h2", { id: "test-title" }, "Whole test"),
      h("dl", { class: "facts", id: "test-facts" },
        h("dt", {}, "Sessions"), h("dd", {}, number(test.sessions ?? test.count)),
        h("dt", {}, "Mean"), h("dd", {}, number(test.mean)),
        h("dt", {}, "Median"), h("dd", {}, number(test.median)),
        h("dt", {}, "Cronbach's alpha"), h("dd", {}, number(test.alpha, 2))),
      hist.figure),
    h("section", { class: "card", "aria-labelledby": "items-title" },
      h("h2", { id: "items-title" }, "Questions"),
      h("div", { class: "chart-pair" }, facility.figure, discrimination.figure),
      table("Item statistics", ["Question", "Answers", "Facility", "SD", "Discrimination"], items.map((i) => [
        itemLabel(i), number(i.answers ?? i.count), number(i.facility, 2), number(i.sd, 2), number(i.discrimination, 2),
      ]), { id: "items-table" })),
    h("section", { class: "card", "aria-labelledby": "pass-title" },
      h("h2", { id: "pass-title" }, "Pass rate over time"), pass.figure,
      table("Pass rate", ["Period", "Sessions", "Passed", "Rate"], passRates.map((p) => [
        p.period, number(p.attempts), number(p.passes), percent((p.rate ?? 0) * 100),
      ]), { id: "pass-table" })),
  ];
  // Charts need their canvas in the document to size themselves: draw after insertion.
  queueMicrotask(() => {
    keep(barChart(hist.canvas, histogram.map((b) => b.label), histogram.map((b) => b.count), { label: "Sessions" }));
    keep(barChart(facility.canvas, items.map(itemLabel), items.map((i) => i.facility), { label: "Facility", yMax: 1 }));
    keep(barChart(discrimination.canvas, items.map(itemLabel), items.map((i) => i.discrimination),
      { label: "Discrimination", color: SECOND, yMin: -1, yMax: 1 }));
    keep(new window.Chart(pass.canvas, {
      type: "line",
      data: { labels: passRates.map((p) => p.period),
        datasets: [{ label: "Pass rate (%)", data: passRates.map((p) => (p.rate ?? 0) * 100), borderColor: ACCENT, backgroundColor: ACCENT }] },
      options: { animation: reducedMotion() ? false : { duration: 300 }, maintainAspectRatio: false,
        scales: { y: { min: 0, max: 100 } }, plugins: { legend: { display: false } } },
    }));
  });
  return sections;
}
