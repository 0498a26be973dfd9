// The review queue: questions with answers waiting for an examiner, then one question's answers
// across all candidates in random order (marked one question at a time, as in Moodle).

import { answerCard } from "./answers.js";
import { AudioShelf } from "./audio.js";
import { h, table } from "./dom.js";

export async function renderReviewQueue(ctx, container) {
  const questions = await ctx.ui.busy("Loading the review queue…",
    ctx.api.request("/api/v1/review/questions", { what: "Loading the review queue" }));
  const waiting = questions.filter((q) => q.pending > 0);
  const pending = waiting.reduce((sum, q) => sum + q.pending, 0);
  container.append(h("section", { class: "card", "aria-labelledby": "review-title" },
    h("h2", { id: "review-title" }, "Review queue"),
    h("p", { class: "hint" }, "Answers the machine was unsure about (low speech-recognition confidence, graders that disagree, ",
      "mid-range scores) and answers an examiner picked. Mark one question at a time across all candidates."),
    questions.length === 0 ? h("p", {}, "Nothing to review: no answers are waiting.")
      : table(`${pending} answer${pending === 1 ? "" : "s"} waiting in ${waiting.length} question${waiting.length === 1 ? "" : "s"}`,
        ["College", "Case", "No.", "Question", "Waiting"], questions.map((q) => [
          q.college_type, String(q.scenario_id), String(q.question_number),
          h("a", { href: `#/review/${q.question_id}` }, q.question_text), String(q.pending),
        ]), { id: "review-table" })));
  ctx.ui.status(pending ? `${pending} answers waiting for review.` : "Nothing waiting for review.");
}

export async function renderReviewAnswers(ctx, container, questionId) {
  // One random order per visit: reloading keeps it (sessionStorage), a new visit shuffles again.
  const key = `newspeech.review.seed.${questionId}`;
  const seed = sessionStorage.getItem(key) ?? String(Math.floor(Math.random() * 2 ** 31));
  sessionStorage.setItem(key, seed);
  const includeReviewed = h("input", { id: "include-reviewed", type: "checkbox" });
  const list = h("div", { id: "review-answers" });
  const shelf = new AudioShelf(ctx.api, ctx.ui);
  const heading = h("h2", { id: "review-question-title" }, "Review");
  const questionText = h("p", { class: "question" });
  container.append(h("section", { class: "card", "aria-labelledby": "review-question-title" },
    heading, h("p", { class: "no-print" }, h("a", { href: "#/review" }, "← Review queue")),
    questionText,
    h("div", { class: "check" }, includeReviewed, h("label", { for: "include-reviewed" }, "Also show answers already reviewed"))),
  list);

  async function load() {
    shelf.close();
    const page = await ctx.ui.busy("Loading the answers…",
      ctx.api.request(`/api/v1/review/questions/${questionId}/answers`, {
        query: { seed, include_reviewed: includeReviewed.checked, size: 100 }, what: "Loading the answers",
      }));
    const answers = page.items;
    const question = await ctx.api.request(`/api/v1/questions/${questionId}`, { what: "Loading the question" });
    heading.textContent = `Review: question ${question.scenario_id}.${question.question_number} (${question.college_type})`;
    questionText.textContent = question.question_text;
    const more = page.total > answers.length
      ? h("p", { class: "hint" }, `Showing ${answers.length} of ${page.total}: mark these, then reload for the rest.`) : null;
    list.replaceChildren(...(answers.length === 0
      ? [h("p", { class: "card" }, includeReviewed.checked ? "No answers to this question yet." : "No answers waiting for this question.")]
      : [more, ...answers.map((a, index) => answerCard(ctx, shelf, {
        answerId: a.answer_id,
        heading: `Answer ${index + 1} of ${page.total}: ${a.student_name} (session ${a.session_code})`,
        transcript: a.transcript,
        corrected: a.corrected_transcript,
        score: a.score,
        maxScore: a.max_score,
        feedbackType: a.feedback_type,
        evaluatorType: a.evaluator_type,
        mark: a.mark,
        confidence: a.asr_confidence,
        audioUrl: a.audio_url,
      }, {
        allowFlag: false,
        onOverride: (response) => ctx.ui.status(response.result
          ? `Saved. Session ${a.session_code} now totals ${response.result.total_score}, grade ${response.result.grade ?? "–"}.`
          : "Saved."),
      }))].filter(Boolean)));
    ctx.ui.status(`${page.total} answer${page.total === 1 ? "" : "s"} in random order.`);
  }
  includeReviewed.addEventListener("change", () => load().catch((error) => ctx.ui.error(error.message)));
  await load();
  return () => shelf.close();
}
