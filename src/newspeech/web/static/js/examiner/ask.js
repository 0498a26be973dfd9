// Ask the data (issue 18): a curated question (always there) or a plain-language one (when an
// LLM is configured); the answer as a table, a chart when its shape suits, and the SQL that ran.

import { field, h, table } from "./dom.js";

const ACCENT = "#0b4f9c";
const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

/** The first day of the current term: 1 September, or 1 February in spring. */
function termStart(today = new Date()) {
  const year = today.getFullYear();
  const month = today.getMonth() + 1;
  const start = month >= 9 ? `${year}-09-01` : month >= 2 ? `${year}-02-01` : `${year - 1}-09-01`;
  return start;
}

/** One control per input of a curated question (ids ``ask-<name>``), by kind. */
function control(input, colleges) {
  const id = `ask-${input.name.replaceAll("_", "-")}`;
  if (input.kind === "college") {
    return h("select", { id, name: input.name }, colleges.map((c) => new Option(c.name, c.code)));
  }
  if (input.kind === "choice") {
    return h("select", { id, name: input.name },
      input.choices.map((value) => new Option(value.replaceAll("_", " "), value)));
  }
  if (input.kind === "date") return h("input", { id, name: input.name, type: "date", required: true, value: termStart() });
  return h("input", { id, name: input.name, type: "text", required: true, maxlength: 100 });
}

/**
 * The "Ask the data" card in ``container``. ``ctx``: ``api.request``, ``ui`` (``busy``,
 * ``status``, ``error``, ``clearError``) and ``colleges()``; the examiner and analyst
 * workspaces both pass theirs. The catalogue lists only what the signed-in user may ask.
 */
export async function renderAsk(ctx, container) {
  const catalogue = await ctx.ui.busy("Loading…", ctx.api.request("/api/v1/ask/catalogue",
    { what: "Loading the questions" }));
  const needsColleges = catalogue.curated.some((q) => q.inputs.some((i) => i.kind === "college"));
  const colleges = needsColleges ? await ctx.colleges() : [];
  const choice = h("select", { id: "ask-curated" },
    catalogue.curated.map((q) => new Option(q.title, q.key)));
  const inputs = h("div", { class: "inline-fields", id: "ask-inputs" });
  const curatedForm = h("form", { class: "filters", id: "ask-curated-form" },
    field("Question", choice), inputs,
    h("button", { type: "submit", class: "primary" }, "Ask"));
  const question = h("input", { id: "ask-question", type: "text", maxlength: 1000,
    placeholder: catalogue.views.some((v) => v.name === "answers")
      ? "Which question had the lowest mean mark this term?"
      : "Which spa audits in Lyon mention ventilation?" });
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
  const chosen = () => catalogue.curated.find((q) => q.key === choice.value);
  const controls = new Map();
  const syncInputs = () => {
    controls.clear();
    inputs.replaceChildren(...(chosen()?.inputs ?? []).map((input) => {
      const made = control(input, colleges);
      controls.set(input.name, made);
      return field(input.label || input.name, made);
    }));
  };
  choice.addEventListener("change", syncInputs);
  syncInputs();

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
    parameters: Object.fromEntries([...controls].map(([name, made]) => [name, made.value.trim()])) }));
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
