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

function barChart(canvas, labels, data, { label, color = ACCENT, yMax, yMin, counts = false } = {}) {
  return new window.Chart(canvas, {
    type: "bar",
    data: { labels, datasets: [{ label, data, backgroundColor: color }] },
    options: {
      animation: reducedMotion() ? false : { duration: 300 },
      maintainAspectRatio: false,
      scales: { y: { min: yMin, max: yMax, beginAtZero: true, ticks: counts ? { precision: 0 } : {} } },
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
        query: {
          since: since.value ? `${since.value}T00:00:00Z` : null,
          until: until.value ? `${until.value}T00:00:00Z` : null,
          period: period.value,
        },
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

const binLabel = (bin) => `${Math.round(bin.lower)}–${Math.round(bin.upper)}%`;
const itemLabel = (item) => `Q${item.scenario_id}.${item.question_number}`;
const ratePercent = (rate) => Math.round(rate * 1000) / 10;

function renderAll(stats, keep) {
  const exam = stats.exam;
  const items = stats.questions;
  const passRates = stats.pass_rates;
  const bins = exam.distribution;
  const withheld = items.filter((i) => i.discrimination_note);

  const hist = chartCanvas("histogram-chart", "Score distribution (candidates per band of the percentage)",
    `Histogram of candidates' percentages: ${bins.map((b) => `${binLabel(b)}: ${b.count}`).join(", ")}`);
  const facility = chartCanvas("facility-chart", "Facility per question (mean score ÷ maximum)",
    `Facility per question: ${items.map((i) => `${itemLabel(i)} ${number(i.facility, 2)}`).join(", ")}`);
  const discrimination = chartCanvas("discrimination-chart", "Discrimination per question (correlation with the rest of the test)",
    `Discrimination per question: ${items.map((i) => `${itemLabel(i)} ${number(i.discrimination, 2)}`).join(", ")}`);
  const pass = chartCanvas("pass-rate-chart", `Pass rate per ${stats.period}`,
    `Pass rate: ${passRates.map((p) => `${p.period_start} ${percent(p.rate * 100)}`).join(", ")}`);

  const sections = [
    h("section", { class: "card", "aria-labelledby": "test-title" },
      h("h2", { id: "test-title" }, "Whole test"),
      exam.candidates === 0 ? h("p", {}, "No results in this period yet.") : null,
      h("dl", { class: "facts", id: "test-facts" },
        h("dt", {}, "Candidates"), h("dd", { id: "stat-candidates" }, String(exam.candidates)),
        h("dt", {}, "Mean total"), h("dd", { id: "stat-mean" }, number(exam.mean)),
        h("dt", {}, "Median total"), h("dd", { id: "stat-median" }, number(exam.median)),
        h("dt", {}, "Standard deviation"), h("dd", {}, number(exam.std_dev)),
        h("dt", {}, "Cronbach's alpha"), h("dd", { id: "stat-alpha" }, exam.cronbach_alpha_note
          ? `not given: too few candidates (${exam.candidates}; at least ${exam.min_candidates} needed)`
          : number(exam.cronbach_alpha, 2)),
        h("dt", {}, "Terminated sittings"), h("dd", { id: "stat-terminated" },
          `${exam.terminated_excluded} left out of these numbers (the pass rate counts them)`)),
      hist.figure),
    h("section", { class: "card", "aria-labelledby": "items-title" },
      h("h2", { id: "items-title" }, "Questions"),
      h("div", { class: "chart-pair" }, facility.figure, discrimination.figure),
      withheld.length ? h("p", { id: "discrimination-note", class: "hint" },
        `Discrimination is not given for ${withheld.length === items.length ? "any question" : `${withheld.length} questions`}: `
        + `a question needs answers from at least ${exam.min_candidates} candidates before its correlation with the rest `
        + "of the test means anything.") : null,
      table("Item statistics", ["Question", "Text", "Answers", "Mean", "Facility", "SD", "Discrimination"], items.map((i) => [
        itemLabel(i), i.question_text, String(i.attempts), number(i.mean), number(i.facility, 2), number(i.std_dev, 2),
        i.discrimination_note ? "too few candidates" : number(i.discrimination, 2),
      ]), { id: "items-table" })),
    h("section", { class: "card", "aria-labelledby": "pass-title" },
      h("h2", { id: "pass-title" }, "Pass rate over time"), pass.figure,
      table("Pass rate", [stats.period === "week" ? "Week of" : "Month of", "Candidates", "Passed", "Rate"], passRates.map((p) => [
        p.period_start, String(p.attempts), String(p.passes), percent(p.rate * 100),
      ]), { id: "pass-table" })),
  ];
  // Charts size themselves from their canvas's box: draw once the sections are in the page.
  queueMicrotask(() => {
    keep(barChart(hist.canvas, bins.map(binLabel), bins.map((b) => b.count), { label: "Candidates", counts: true }));
    keep(barChart(facility.canvas, items.map(itemLabel), items.map((i) => i.facility), { label: "Facility", yMax: 1 }));
    keep(barChart(discrimination.canvas, items.map(itemLabel), items.map((i) => i.discrimination),
      { label: "Discrimination", color: SECOND, yMin: -1, yMax: 1 }));
    keep(new window.Chart(pass.canvas, {
      type: "line",
      data: { labels: passRates.map((p) => p.period_start),
        datasets: [{ label: "Pass rate (%)", data: passRates.map((p) => ratePercent(p.rate)), borderColor: ACCENT,
          backgroundColor: ACCENT, pointRadius: 5 }] },
      // offset: a single period still sits mid-chart rather than on the axis.
      options: { animation: reducedMotion() ? false : { duration: 300 }, maintainAspectRatio: false,
        scales: { x: { offset: true }, y: { min: 0, max: 100 } }, plugins: { legend: { display: false } } },
    }));
  });
  return sections;
}
