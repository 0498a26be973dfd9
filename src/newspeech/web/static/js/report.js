// Rendering of graded answers: one line per evaluation during the exam, the table at the end.
// Text from the server always goes in through textContent, never as HTML.

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function formatScore(score, max) {
  const number = (value) => (Number.isInteger(value) ? value : Number(value).toFixed(1));
  return max === undefined || max === null ? number(score) : `${number(score)} / ${number(max)}`;
}

export function renderEvaluation(evaluation) {
  const item = element("li");
  item.dataset.question = evaluation.questionNumber;
  item.append(
    element("strong", `Question ${evaluation.questionNumber}: ${formatScore(evaluation.score, evaluation.maxScore)}. `),
    element("span", evaluation.feedback),
  );
  if (evaluation.needsReview) item.append(element("em", " (an examiner will review this answer)"));
  return item;
}

/** The mark in words when the server sends it (one line each: an examiner's mark, comment and
 *  name come before the machine's original), the machine's feedback otherwise. */
function feedbackCell(answer) {
  const cell = element("td", undefined, { "data-label": "Feedback" });
  if (!answer.markLines?.length) {
    cell.textContent = answer.feedback;
    return cell;
  }
  cell.append(...answer.markLines.map((line) => element("p", line.text, { class: `mark-${line.kind.replaceAll("_", "-")}` })));
  return cell;
}

export function renderReport(result, { summary, rows }) {
  const verdict = element("span", result.passed ? "Passed" : "Not passed", {
    class: result.passed ? "pass" : "fail",
  });
  summary.replaceChildren(
    element("span", `Total ${formatScore(result.totalScore, result.maxScore)} (${Number(result.percentage).toFixed(0)}%), grade ${result.grade}. `),
    verdict,
  );
  rows.replaceChildren(...result.answers.map((answer) => {
    const row = element("tr");
    row.dataset.question = answer.number;
    row.append(
      element("td", answer.number, { "data-label": "No." }),
      element("td", answer.question, { "data-label": "Question" }),
      element("td", answer.transcript || "(no answer)", { "data-label": "Your answer" }),
      element("td", formatScore(answer.score), { "data-label": "Score" }),
      feedbackCell(answer),
    );
    return row;
  }));
}
