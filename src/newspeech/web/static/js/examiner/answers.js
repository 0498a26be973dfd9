// One answer as an examiner sees it (session view and review queue): what was asked, the
// transcript, the machine's grade and why it wants review, the recording, and the override form.

import { h, label, number, score } from "./dom.js";

let formCount = 0;

/** The grade lines of an answer card, redrawn after an override. The mark in words comes from
 *  the server (``mark.lines``: an examiner's mark, comment, name and time before the machine's
 *  original mark and wording, then the review's state), so the card, the PDF report, the
 *  certificate and the candidate's report say the same thing. */
function gradeLines(answer) {
  const mark = answer.mark;
  const examiner = mark?.source === "examiner";
  const lines = mark?.lines ?? (answer.feedback ? [{ kind: "feedback", text: answer.feedback }] : []);
  const keywords = examiner ? "Keywords the machine heard" : "Keywords heard";
  const missing = examiner ? "Keywords the machine missed" : "Keywords missing";
  return [
    h("li", {}, h("strong", { class: "answer-score" }, `Score ${score(answer.score, answer.maxScore)}`),
      answer.feedbackType ? ` · ${label(answer.feedbackType)}` : "",
      answer.evaluatorType ? ` · graded by ${examiner ? "an examiner" : label(answer.evaluatorType)}` : ""),
    ...lines.map((line) => h("li", { class: `mark-${line.kind.replaceAll("_", "-")}` },
      line.kind === "feedback" ? `Feedback: ${line.text}` : line.text)),
    answer.matched?.length ? h("li", {}, `${keywords}: ${answer.matched.join(", ")}`) : null,
    answer.missing?.length ? h("li", {}, `${missing}: ${answer.missing.join(", ")}`) : null,
    answer.confidence !== undefined && answer.confidence !== null
      ? h("li", {}, `Speech recognition confidence: ${number(answer.confidence, 2)}`) : null,
  ];
}

/**
 * What was heard; when the question's terms were read back into it before grading, both:
 * "heard: …" (the recording's raw transcript) and "corrected: …" (what was graded).
 */
function transcriptLines(answer) {
  if (!answer.corrected || answer.corrected === answer.transcript) {
    return [h("blockquote", { class: "transcript" }, answer.transcript || "(no answer)")];
  }
  return [
    h("blockquote", { class: "transcript heard" }, h("strong", {}, "heard: "), answer.transcript || ""),
    h("blockquote", { class: "transcript corrected" }, h("strong", {}, "corrected: "), answer.corrected),
    h("p", { class: "hint" }, "Terms of the question that speech recognition misheard were read back in; the corrected text was graded."),
  ];
}

/**
 * An ``<article>`` for ``answer`` = {answerId, heading, questionText, transcript, corrected (the
 * transcript with misheard terms read back in, what was graded; null when none), score, maxScore,
 * feedback, feedbackType, evaluatorType, mark (the API's ``mark``), confidence, matched, missing,
 * audioUrl}.
 * ``onOverride(response)`` gets the API's {evaluation, result} after a saved override.
 */
export function answerCard(ctx, shelf, answer, { onOverride, allowFlag = true } = {}) {
  const grade = h("ul", { class: "grade" }, gradeLines(answer));
  const id = `override-${(formCount += 1)}`;
  const scoreInput = h("input", { id: `${id}-score`, name: "score", type: "number", min: 0,
    max: answer.maxScore ?? 10, step: 1, required: true, value: answer.score ?? "", inputmode: "numeric" });
  const comment = h("textarea", { id: `${id}-comment`, name: "comment", rows: 2, required: true,
    maxlength: 2000 });
  const message = h("p", { class: "form-message", role: "status", "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "primary" }, "Save override");
  const form = h("form", { novalidate: true, "aria-label": `Override the score of ${answer.heading}` },
    h("div", { class: "inline-fields" },
      h("div", { class: "field" }, h("label", { for: scoreInput.id }, `New score (0–${answer.maxScore ?? 10})`), scoreInput),
      h("div", { class: "field grow" }, h("label", { for: comment.id }, "Comment (required: why the score changes)"), comment)),
    save, message);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = Number(scoreInput.value);
    const max = answer.maxScore ?? 10;
    if (scoreInput.value === "" || !Number.isInteger(value) || value < 0 || value > max) {
      message.textContent = `Enter a whole number from 0 to ${max}.`;
      scoreInput.setAttribute("aria-invalid", "true");
      scoreInput.focus();
      return;
    }
    if (!comment.value.trim()) {
      message.textContent = "Write a comment: an override must say why.";
      comment.setAttribute("aria-invalid", "true");
      comment.focus();
      return;
    }
    scoreInput.removeAttribute("aria-invalid");
    comment.removeAttribute("aria-invalid");
    save.disabled = true;
    message.textContent = "Saving…";
    try {
      const response = await ctx.api.request(`/api/v1/answers/${answer.answerId}/override`, {
        method: "POST", json: { score: value, comment: comment.value.trim() }, what: "Saving the override",
      });
      Object.assign(answer, {
        score: response.evaluation.score_obtained,
        maxScore: response.evaluation.max_score,
        feedback: response.evaluation.feedback,
        feedbackType: response.evaluation.feedback_type,
        evaluatorType: response.evaluation.evaluator_type,
        mark: response.evaluation.mark,
      });
      grade.replaceChildren(...gradeLines(answer).filter(Boolean));
      comment.value = "";
      message.textContent = `Saved: the score is now ${score(answer.score, answer.maxScore)}.`;
      onOverride?.(response);
    } catch (error) {
      message.textContent = error.message;
    } finally {
      save.disabled = false;
    }
  });

  const flagMessage = h("span", { class: "hint", role: "status", "aria-live": "polite" });
  const flag = allowFlag ? h("button", { type: "button", class: "no-print", onclick: async () => {
    flag.disabled = true;
    try {
      await ctx.api.request(`/api/v1/answers/${answer.answerId}/flag`, {
        method: "POST", json: { reason: "picked by an examiner" }, what: "Flagging the answer",
      });
      flagMessage.textContent = "Added to the review queue.";
    } catch (error) {
      flagMessage.textContent = error.message;
      flag.disabled = false;
    }
  } }, "Add to review queue") : null;

  return h("article", { class: "answer card", dataset: { answerId: answer.answerId } },
    h("h3", {}, answer.heading),
    answer.questionText ? h("p", { class: "question" }, answer.questionText) : null,
    h("h4", {}, "Transcript"),
    ...transcriptLines(answer),
    grade,
    shelf.player(answer.audioUrl, answer.heading),
    // Closed by default: twelve open forms would bury the transcripts.
    h("details", { class: "override no-print" }, h("summary", {}, "Override the score"), form),
    flag ? h("p", { class: "no-print" }, flag, " ", flagMessage) : null);
}
