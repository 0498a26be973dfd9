// Ask the data (issue 18): a curated question (always there) or a plain-language one (when an
// LLM is configured); the answer as a table, a chart when its shape suits, and the SQL that ran.

import { field, h, table } from "./dom.js";

const ACCENT = "#0b4f9c";
const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

export async function renderAsk(ctx, container) {
  const catalogue = await ctx.ui.busy("Loading…", ctx.api.request("/api/v1/ask/catalogue",
    { what: "Loading the questions" }));
  const colleges = await ctx.colleges();
  const choice = h("select", { id: "ask-curated" },
    catalogue.curated.map((q) => new Option(q.title, q.key)));
  const college = h("select", { id: "ask-college" },
    colleges.map((c) => new Option(c.name, c.code)));
  const curatedForm = h("form", { class: "filters", id: "ask-curated-form" },
    field("Question", choice), field("College", college),
    h("button", { type: "submit", class: "primary" }, "Ask"));
  const question = h("input", { id: "ask-question", type: "text", maxlength: 1000,
    placeholder: "Which question had the lowest mean mark this term?" });
  const freeForm = catalogue.llm_configured
    ? h("form", { class: "filters", id: "ask-free-form" }, field("In your own words", question),
      h("button", { type: "submit" }, "Ask"))
    : h("p", { class: "hint", id: "ask-no-llm" },
      "Questions in your own words need a language model (NEWSPEECH_LLM_API_URL); the curated questions always work.");
  const output = h("div", { id: "ask-output" });
  container.append(h("section", { class: "card", "aria-labelledby": "ask-title" },
    h("h2", { id: "ask-title" }, "Ask the data"), curatedForm, freeForm), output);

  let chart = null;
  const destroy = () => { chart?.destroy(); chart = null; };
  const needsCollege = () => catalogue.curated.find((q) => q.key === choice.value)?.parameters.includes("college");
  const syncCollege = () => { college.disabled = !needsCollege(); };
  choice.addEventListener("change", syncCollege);
  syncCollege();

  async function ask(body) {
    const answer = await ctx.ui.busy("Asking…", ctx.api.request("/api/v1/ask",
      { method: "POST", json: body, what: "Asking the data" }));
    destroy();
    output.replaceChildren(...renderAnswer(answer, (made) => { chart = made; }));
    ctx.ui.status(`${answer.row_count} rows.`);
  }
  const submit = (form, body) => form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.ui.clearError();
    ask(body()).catch((error) => ctx.ui.error(error.message));
  });
  submit(curatedForm, () => ({ curated: choice.value,
    parameters: needsCollege() ? { college: college.value } : {} }));
  if (catalogue.llm_configured) submit(freeForm, () => ({ question: question.value }));
  return destroy;
}

function cell(value) {
  if (value === null || value === undefined) return "–";
  return typeof value === "number" && !Number.isInteger(value) ? value.toFixed(2) : String(value);
}

function renderAnswer(answer, keep) {
  const canvas = h("canvas", { id: "ask-chart", role: "img",
    "aria-label": `${answer.question}: ${answer.rows.map((r) => `${r[0]} ${cell(r[r.length - 1])}`).join(", ")}` });
  const charted = answer.chart !== "table" && answer.rows.length > 0;
  const section = h("section", { class: "card", "aria-labelledby": "ask-answer-title" },
    h("h2", { id: "ask-answer-title" }, answer.question),
    charted ? h("figure", { class: "chart" }, h("div", { class: "chart-box" }, canvas)) : null,
    answer.rows.length ? table("Answer", answer.columns, answer.rows.map((r) => r.map(cell)), { id: "ask-table" })
      : h("p", { id: "ask-empty" }, "No rows."),
    h("details", {}, h("summary", {}, "The SQL that ran"), h("pre", { id: "ask-sql" }, answer.sql)));
  if (charted) {
    queueMicrotask(() => keep(new window.Chart(canvas, {
      type: answer.chart,
      data: { labels: answer.rows.map((r) => String(r[0])),
        datasets: [{ label: answer.columns[answer.columns.length - 1], data: answer.rows.map((r) => r[r.length - 1]),
          backgroundColor: ACCENT, borderColor: ACCENT }] },
      options: { animation: reducedMotion() ? false : { duration: 300 }, maintainAspectRatio: false,
        plugins: { legend: { display: false } } },
    })));
  }
  return [section];
}
