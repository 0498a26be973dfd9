// Sessions: a filterable list of sittings, and one sitting with every answer's transcript,
// recording, grade and override form. The sitting's page is also its printable report.

import { answerCard } from "./answers.js";
import { AudioShelf } from "./audio.js";
import { collegeOptions, download, field, h, label, percent, score, table, when } from "./dom.js";

const STATUSES = ["completed", "in_progress", "pending", "terminated"];
const PAGE_SIZE = 25;

export async function renderSessions(ctx, container) {
  const params = new URLSearchParams();
  const colleges = await ctx.ui.busy("Loading…", ctx.colleges());
  const college = h("select", { id: "filter-college", name: "college_type" },
    new Option("All colleges", ""), collegeOptions(colleges, params.get("college_type")));
  const status = h("select", { id: "filter-status", name: "status" }, new Option("Any status", ""),
    STATUSES.map((s) => { const o = new Option(label(s), s); o.selected = s === params.get("status"); return o; }));
  const from = h("input", { id: "filter-from", name: "created_from", type: "date", value: params.get("created_from") ?? "" });
  const to = h("input", { id: "filter-to", name: "created_to", type: "date", value: params.get("created_to") ?? "" });
  const results = h("div", { id: "session-results" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter sessions" },
    field("College", college), field("Status", status), field("Started from", from), field("Started before", to),
    h("button", { type: "submit", class: "primary" }, "Show sessions"));
  container.append(h("section", { class: "card", "aria-labelledby": "sessions-title" },
    h("h2", { id: "sessions-title" }, "Sessions"), form, results));

  let page = 1;
  async function load() {
    const query = {
      college_type: college.value, status: status.value, page, size: PAGE_SIZE,
      created_from: from.value ? `${from.value}T00:00:00Z` : "",
      created_to: to.value ? `${to.value}T00:00:00Z` : "",
    };
    const data = await ctx.ui.busy("Loading sessions…",
      ctx.api.request("/api/v1/exam-sessions", { query, what: "Loading the sessions" }));
    const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    const rows = data.items.map((s) => [
      h("a", { href: `#/sessions/${s.id}` }, s.session_code),
      candidateName(s.user), s.college_type, label(s.status), when(s.start_time ?? s.created_at),
      `${s.questions_answered} / ${s.total_questions}`, String(s.total_score),
    ]);
    results.replaceChildren(
      data.total === 0 ? h("p", {}, "No sessions match these filters.")
        : table(`Sessions ${(page - 1) * PAGE_SIZE + 1}–${(page - 1) * PAGE_SIZE + data.items.length} of ${data.total}`,
          ["Session", "Candidate", "College", "Status", "Started", "Answered", "Total"], rows, { id: "sessions-table" }),
      h("nav", { class: "pager", "aria-label": "Session pages" },
        h("button", { type: "button", disabled: page <= 1, onclick: () => { page -= 1; load().catch(fail); } }, "Previous page"),
        h("span", {}, ` Page ${page} of ${pages} `),
        h("button", { type: "button", disabled: page >= pages, onclick: () => { page += 1; load().catch(fail); } }, "Next page")));
    ctx.ui.status(`${data.total} session${data.total === 1 ? "" : "s"} found.`);
  }
  const fail = (error) => ctx.ui.error(error.message);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    page = 1;
    ctx.ui.clearError();
    load().catch(fail);
  });
  await load();
}

/** "Asha Rao (asha.rao)": the full name when there is one, always the user name. */
function candidateName(user) {
  if (!user) return "–";
  return user.full_name ? `${user.full_name} (${user.username})` : user.username;
}

function summaryLine(detail, result) {
  if (!result) {
    return [h("span", { id: "session-total" }, `Total ${detail.total_score} (no result yet: the session is ${label(detail.status)})`)];
  }
  return [
    h("span", { id: "session-total" }, `Total ${score(result.total_score, result.max_score)}`),
    " · ", h("span", { id: "session-percentage" }, percent(result.percentage_correct)),
    " · grade ", h("strong", { id: "session-grade" }, result.grade ?? "–"),
    " · ", h("strong", { id: "session-verdict", class: result.pass_status ? "pass" : "fail" },
      result.pass_status ? "Passed" : "Not passed"),
  ];
}

export async function renderSession(ctx, container, id) {
  const detail = await ctx.ui.busy("Loading the session…",
    ctx.api.request(`/api/v1/exam-sessions/${id}`, { what: "Loading the session" }));
  const shelf = new AudioShelf(ctx.api, ctx.ui);
  const candidate = detail.user.full_name || detail.user.username;
  const summary = h("p", { class: "summary", "aria-live": "polite" }, summaryLine(detail, detail.result));
  const pdfMessage = h("span", { class: "hint", role: "status" });
  const actions = h("p", { class: "actions no-print" },
    h("a", { href: "#/sessions" }, "← All sessions"), " ",
    h("button", { type: "button", onclick: () => window.print() }, "Print report"), " ",
    h("button", { type: "button", onclick: async () => {
      pdfMessage.textContent = "Preparing the PDF…";
      try {
        const blob = await ctx.api.blob(`/api/v1/exam-sessions/${id}/report`, "Downloading the PDF report");
        download(blob, `session-${detail.session_code}.pdf`);
        pdfMessage.textContent = "PDF report downloaded.";
      } catch (error) {
        pdfMessage.textContent = error.message;
      }
    } }, "Download PDF report"), " ",
    h("button", { type: "button", id: "certificate-button", hidden: !detail.result?.pass_status, onclick: async () => {
      pdfMessage.textContent = "Preparing the certificate…";
      try {
        const blob = await ctx.api.blob(`/api/v1/results/${detail.result.id}/certificate`, "Downloading the certificate");
        download(blob, `certificate-${detail.session_code}.pdf`);
        pdfMessage.textContent = "Certificate downloaded.";
      } catch (error) {
        pdfMessage.textContent = error.message;
      }
    } }, "Download certificate"), " ", pdfMessage);

  const answers = detail.answers.map((a) => answerCard(ctx, shelf, {
    answerId: a.id,
    heading: `Question ${a.question_number}`,
    questionText: a.question_text,
    transcript: a.transcribed_text ?? a.answer_text,
    corrected: a.transcribed_text !== null && a.answer_text !== a.transcribed_text ? a.answer_text : null,
    score: a.evaluation?.score_obtained ?? null,
    maxScore: a.evaluation?.max_score ?? 10,
    feedback: a.evaluation?.feedback,
    feedbackType: a.evaluation?.feedback_type,
    evaluatorType: a.evaluation?.evaluator_type,
    mark: a.evaluation?.mark,
    matched: (a.evaluation?.matched_keywords ?? []).map(String),
    missing: (a.evaluation?.missing_keywords ?? []).map(String),
    confidence: a.confidence_score,
    audioUrl: a.audio_url ?? null,
  }, {
    onOverride: (response) => {
      if (!response.result) {
        ctx.ui.status("Override saved.");
        return;
      }
      detail.result = response.result;
      document.getElementById("certificate-button").hidden = !response.result.pass_status;
      summary.replaceChildren(...summaryLine(detail, response.result));
      ctx.ui.status(`Override saved. New total ${score(response.result.total_score, response.result.max_score)}, grade ${response.result.grade ?? "–"}.`);
    },
  }));

  container.append(h("section", { class: "card report", "aria-labelledby": "session-title" },
    h("p", { class: "print-only" }, `NewSpeech session report, printed ${new Date().toLocaleString()}`),
    h("h2", { id: "session-title" }, `Session ${detail.session_code}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Candidate"), h("dd", { id: "session-candidate" }, candidate),
      h("dt", {}, "College"), h("dd", {}, detail.college_type),
      h("dt", {}, "Status"), h("dd", {}, label(detail.status)),
      h("dt", {}, "Started"), h("dd", {}, when(detail.start_time)),
      h("dt", {}, "Ended"), h("dd", {}, when(detail.end_time)),
      h("dt", {}, "Answered"), h("dd", {}, `${detail.questions_answered} of ${detail.total_questions}`)),
    summary, actions),
  h("section", { "aria-label": "Answers" },
    answers.length ? answers : h("p", { class: "card" }, "No answers were recorded in this session.")));
  ctx.ui.status(`Session ${detail.session_code}: ${detail.answers.length} answers.`);
  return () => shelf.close();
}
