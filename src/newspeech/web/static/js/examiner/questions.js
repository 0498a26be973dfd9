// Questions: a college's bank, and the editor for one question (text, keywords with synonyms,
// model answer, guidelines) followed by the regrade of stored answers: dry run, then apply.

import { collegeOptions, field, h, label, table } from "./dom.js";

let chosenCollege = null;

export async function renderQuestions(ctx, container) {
  const colleges = await ctx.ui.busy("Loading…", ctx.colleges());
  chosenCollege ??= ctx.api.user.college_type ?? colleges[0]?.code ?? "";
  const college = h("select", { id: "questions-college" }, collegeOptions(colleges, chosenCollege));
  const list = h("div", { id: "questions-list" });
  const form = h("form", { class: "filters" }, field("College", college),
    h("button", { type: "submit", class: "primary" }, "Show questions"));
  container.append(h("section", { class: "card", "aria-labelledby": "questions-title" },
    h("h2", { id: "questions-title" }, "Questions"),
    h("p", { class: "hint" }, "Choose a question to edit its wording, keywords, synonyms and model answer. ",
      h("a", { href: "#/import" }, "Import or export a whole bank"), "."),
    form, list));

  async function load() {
    chosenCollege = college.value;
    const data = await ctx.ui.busy("Loading questions…", ctx.api.request("/api/v1/questions", {
      query: { college_type: college.value, size: 100, sort: "scenario_id,question_number" },
      what: "Loading the questions",
    }));
    list.replaceChildren(data.items.length === 0 ? h("p", {}, "This college has no questions yet.")
      : table(`${data.total} questions`, ["Case", "No.", "Question", "Keywords", "Max"], data.items.map((q) => [
        `${q.scenario_id}. ${q.scenario_name}`, String(q.question_number),
        h("a", { href: `#/questions/${q.id}` }, q.question_text),
        String(q.keywords?.length ?? 0), String(q.max_score),
      ]), { id: "questions-table" }));
    ctx.ui.status(`${data.total} questions in ${college.selectedOptions[0]?.text ?? college.value}.`);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.ui.clearError();
    load().catch((error) => ctx.ui.error(error.message));
  });
  if (college.value) await load();
}

function keywordRow(keyword, index) {
  const term = h("input", { id: `kw-term-${index}`, class: "kw-term", value: keyword.term ?? "", maxlength: 200,
    "aria-label": `Keyword ${index + 1}` });
  const synonyms = h("input", { id: `kw-syn-${index}`, class: "kw-synonyms", value: (keyword.synonyms ?? []).join(", "),
    "aria-label": `Synonyms of keyword ${index + 1}, separated by commas` });
  const weight = h("input", { id: `kw-weight-${index}`, class: "kw-weight", type: "number", min: 0.1, max: 10, step: 0.1,
    value: keyword.weight ?? 1, "aria-label": `Weight of keyword ${index + 1}` });
  // A keyword derived from the model answer says so until the examiner edits it.
  const badge = keyword.derived ? h("span", { class: "kw-derived", title: "Derived from the model answer; edit it to make it yours" }, "derived") : "";
  const row = h("tr", {}, h("td", { "data-label": "Keyword" }, term, badge), h("td", { "data-label": "Synonyms" }, synonyms),
    h("td", { "data-label": "Weight" }, weight));
  if (keyword.derived) {
    row.dataset.derived = "true";
    row.addEventListener("input", () => { delete row.dataset.derived; badge.remove(); }, { once: true });
  }
  row.append(h("td", {}, h("button", { type: "button", onclick: () => row.remove(),
    "aria-label": `Remove keyword ${index + 1}` }, "Remove")));
  return row;
}

function readKeywords(body) {
  return [...body.querySelectorAll("tr")].map((row) => ({
    term: row.querySelector(".kw-term").value.trim(),
    synonyms: row.querySelector(".kw-synonyms").value.split(",").map((s) => s.trim()).filter(Boolean),
    weight: Number(row.querySelector(".kw-weight").value || 1),
    derived: row.dataset.derived === "true",
  })).filter((k) => k.term);
}

export async function renderQuestion(ctx, container, id) {
  const question = await ctx.ui.busy("Loading the question…",
    ctx.api.request(`/api/v1/questions/${id}`, { what: "Loading the question" }));
  const text = h("textarea", { id: "q-text", rows: 3, required: true, maxlength: 10000 });
  text.value = question.question_text;
  const modelAnswer = h("textarea", { id: "q-model", rows: 4, maxlength: 10000 });
  modelAnswer.value = question.model_answer ?? "";
  const guidelines = h("textarea", { id: "q-guidelines", rows: 3, maxlength: 10000 });
  guidelines.value = question.answer_guidelines ?? "";
  let rows = 0;
  const keywordBody = h("tbody", {}, (question.keywords ?? []).map((k) => keywordRow(k, rows++)));
  const message = h("p", { class: "form-message", role: "status", "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "primary" }, "Save question");
  const form = h("form", { id: "question-form", novalidate: true },
    field("Question text", text), field("Model answer", modelAnswer),
    field("Marking guidelines", guidelines),
    h("div", { class: "table-wrap" }, h("table", { class: "keywords" },
      h("caption", {}, "Keywords (each with its synonyms and weight)"),
      h("thead", {}, h("tr", {}, ["Keyword", "Synonyms (comma-separated)", "Weight", ""].map((t) => h("th", { scope: "col" }, t)))),
      keywordBody)),
    h("p", {}, h("button", { type: "button", onclick: () => {
      const row = keywordRow({}, rows++);
      keywordBody.append(row);
      row.querySelector("input").focus();
    } }, "Add keyword")),
    save, message);

  const regrade = h("section", { class: "card", "aria-labelledby": "regrade-title" },
    h("h2", { id: "regrade-title" }, "Regrade stored answers"),
    h("p", { class: "hint" }, "After changing keywords, synonyms or the model answer, grade every stored answer to this question again. ",
      "The dry run changes nothing; overrides by examiners are never touched."));
  const regradeOutput = h("div", { id: "regrade-output", "aria-live": "polite" });
  const apply = h("button", { type: "button", class: "primary", disabled: true }, "Apply regrade");
  const dryRun = h("button", { type: "button" }, "Preview regrade (dry run)");
  regrade.append(h("p", {}, dryRun, " ", apply), regradeOutput);

  async function runRegrade(applyIt) {
    dryRun.disabled = true;
    apply.disabled = true;
    try {
      const report = await ctx.ui.busy(applyIt ? "Applying the regrade…" : "Regrading (dry run)…",
        ctx.api.request(`/api/v1/questions/${id}/regrade`, { method: "POST", json: { apply: applyIt },
          what: applyIt ? "Applying the regrade" : "The regrade dry run" }));
      regradeOutput.replaceChildren(...regradeReport(report));
      apply.disabled = applyIt;
      ctx.ui.status(applyIt ? "Regrade applied." : "Dry run done: nothing was changed yet.");
    } catch (error) {
      regradeOutput.replaceChildren(h("p", { class: "error" }, error.message));
    } finally {
      dryRun.disabled = false;
    }
  }
  dryRun.addEventListener("click", () => runRegrade(false));
  apply.addEventListener("click", () => runRegrade(true));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) {
      message.textContent = "The question text cannot be empty.";
      text.setAttribute("aria-invalid", "true");
      text.focus();
      return;
    }
    text.removeAttribute("aria-invalid");
    save.disabled = true;
    message.textContent = "Saving…";
    const body = {
      question_text: text.value.trim(),
      keywords: readKeywords(keywordBody),
      ...(modelAnswer.value.trim() ? { model_answer: modelAnswer.value.trim() } : {}),
      ...(guidelines.value.trim() ? { answer_guidelines: guidelines.value.trim() } : {}),
    };
    try {
      await ctx.api.request(`/api/v1/questions/${id}`, { method: "PATCH", json: body, what: "Saving the question" });
      message.textContent = "Saved. Run a regrade dry run below to see how stored answers change.";
      apply.disabled = true;
      regradeOutput.replaceChildren();
    } catch (error) {
      message.textContent = error.message;
    } finally {
      save.disabled = false;
    }
  });

  container.append(h("section", { class: "card", "aria-labelledby": "question-title" },
    h("h2", { id: "question-title" }, `Question ${question.scenario_id}.${question.question_number} (${question.college_type})`),
    h("p", { class: "no-print" }, h("a", { href: "#/questions" }, "← All questions")),
    h("p", { class: "hint" }, `Case: ${question.scenario_name}. Scores ${question.min_score}–${question.max_score}.`),
    form), regrade);
  ctx.ui.status("Editing the question.");
}

/** The regrade report (``POST /questions/{id}/regrade``): score changes per answer and their
 * effect on the sittings' results. */
function regradeReport(report) {
  const { changes, results } = report;
  const verdict = (passed) => (passed ? "pass" : "fail");
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const summary = report.applied
    ? `Applied: ${report.graded} answers graded again, ${plural(changes.length, "score")} changed, ${plural(results.length, "result")} recomputed.`
    : `Dry run (nothing stored): of ${report.graded} answers graded again, ${plural(changes.length, "score")} would change and ${plural(results.length, "result")} with them.`;
  const skipped = report.skipped_manual
    ? ` ${plural(report.skipped_manual, "examiner override")} left as ${report.skipped_manual === 1 ? "it is" : "they are"}.` : "";
  return [
    h("p", { id: "regrade-summary" }, summary + skipped),
    changes.length ? table("Score changes", ["Session", "Answer", "Old score", "New score"], changes.map((c) => [
      h("a", { href: `#/sessions/${c.session_id}` }, c.session_code), String(c.answer_id),
      `${c.old_score} (${label(c.old_feedback_type)})`, `${c.new_score} (${label(c.new_feedback_type)})`,
    ]), { id: "regrade-changes" }) : null,
    results.length ? table("Effect on results", ["Session", "Total", "Grade", "Pass"], results.map((r) => [
      h("a", { href: `#/sessions/${r.session_id}` }, r.session_code),
      `${r.old_total} → ${r.new_total}`, `${r.old_grade ?? "–"} → ${r.new_grade ?? "–"}`,
      `${verdict(r.old_passed)} → ${verdict(r.new_passed)}`,
    ]), { id: "regrade-results" }) : null,
  ].filter(Boolean);
}
