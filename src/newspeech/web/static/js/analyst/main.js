// The analyst workspace: sign in, upload a recording (with a progress bar; the scenario,
// report types and building type chosen last time are offered again), follow its jobs, read
// its transcript with the recording (click a word to hear it from there), read, download and
// re-run its reports, search every transcript (a hit jumps to that moment), and ask the data
// (curated questions over recording analysis, or plain language with an LLM: examiner/ask.js).
// Everything goes through /api/v1 with the analyst's bearer token (the examiner pages' Api: one
// refresh on an expired token), except the player's audio: an <audio> element cannot send the
// token, so it streams from a short-lived signed link (renewed when it expires).

import { Api } from "../examiner/api.js";
import { renderAsk } from "../examiner/ask.js";
import { $, download, h, table, when } from "../examiner/dom.js";

const ANALYST_ROLES = new Set(["analyst", "admin"]);
const POLL_MS = 1000;
const ACTIVE = new Set(["queued", "running"]);

const api = new Api();
const state = {
  recordingId: null, words: [], poll: null, speaking: null, reportTypes: [], reportsPoll: null,
};

const ui = {
  status(text) { $("status").textContent = text; },
  error(text) {
    $("error").textContent = text;
    $("error").hidden = !text;
    if (text) $("error").scrollIntoView({ block: "nearest" });
  },
  async busy(text, promise) {
    $("busy").hidden = false;
    ui.status(text);
    try {
      return await promise;
    } finally {
      $("busy").hidden = true;
    }
  },
};

/** "m:ss" (or "h:mm:ss") for a time in seconds. */
function clock(seconds) {
  const total = Math.floor(seconds);
  const [hours, minutes, secs] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const ss = String(secs).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${ss}` : `${minutes}:${ss}`;
}

// ---- sign-in ---------------------------------------------------------------------------

function showSignIn(message) {
  stopPolling();
  stopReportsPolling();
  $("nav").hidden = true;
  $("workspace").hidden = true;
  $("sign-in").hidden = false;
  ui.status(message ?? "Sign in with your analyst account.");
  $("username").focus();
}

async function signedIn(user) {
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("workspace").hidden = false;
  $("who").textContent = `Signed in as ${user.full_name || user.username} (${user.role})`;
  ui.status("Signed in.");
  try {
    await loadReportTypes();
    await loadRouting();
    await loadRecordings();
    await loadReports();
  } catch (error) {
    ui.error(error.message);
  }
  await showAsk().catch((error) => ui.error(error.message));
}

// ---- ask the data (issue 18): the examiner workspace's card, on recording analysis ----

let destroyAsk = null;

async function showAsk() {
  destroyAsk?.();
  $("ask").replaceChildren();
  const ctx = { api, ui: { ...ui, clearError: () => ui.error("") }, colleges: async () => [] };
  const said = $("status").textContent;
  destroyAsk = await renderAsk(ctx, $("ask"));
  ui.status(said);  // loading the questions says "Loading…"; what was said before still holds
}

async function signIn(event) {
  event.preventDefault();
  ui.error("");
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    ui.error("Enter your user name and password.");
    return;
  }
  $("sign-in-button").disabled = true;
  try {
    const user = await ui.busy("Signing in…", api.login(username, password));
    $("password").value = "";
    if (!ANALYST_ROLES.has(user.role)) {
      await api.logout();
      ui.error(`This area is for analysts. You are signed in as ${user.role === "examiner" ? "an examiner" : "a student"}: use the ${user.role === "examiner" ? "examiner workspace (/examiner)" : "exam page (/)"}.`);
      showSignIn("Signed out.");
      return;
    }
    await signedIn(user);
  } catch (error) {
    ui.error(error.status === 401 ? "Sign-in failed: check your user name and password." : error.message);
    ui.status("");
  } finally {
    $("sign-in-button").disabled = false;
  }
}

async function signOut() {
  await api.logout();
  closeTranscript();
  ui.error("");
  showSignIn("You are signed out.");
}

// ---- upload ----------------------------------------------------------------------------

/** A sentence from the server's error answer ({error, detail}). */
function problem(status, body) {
  const detail = body?.detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg).join("; ");
  if (typeof detail === "string") return detail;
  return `the server answered ${status}`;
}

function showUploadProgress(loaded, total) {
  const percent = total ? Math.round((100 * loaded) / total) : 0;
  $("upload-progress").value = percent;
  $("upload-percent").textContent = `${percent}%`;
}

/** POST the form with XMLHttpRequest: fetch() cannot report an upload's progress. */
function send(form) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/analysis/recordings");
    xhr.setRequestHeader("Authorization", `Bearer ${api.accessToken}`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => showUploadProgress(e.loaded, e.total));
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201) resolve(body);
      else reject(new Error(`Uploading failed: ${problem(xhr.status, body)}.`));
    });
    xhr.addEventListener("error", () => reject(new Error("Uploading failed: the server could not be reached.")));
    xhr.send(form);
  });
}

async function upload(event) {
  event.preventDefault();
  ui.error("");
  const file = $("upload-file").files[0];
  if (!file) {
    ui.error("Choose a recording to upload.");
    $("upload-file").focus();
    return;
  }
  $("upload-button").disabled = true;
  showUploadProgress(0, 0);
  try {
    // A cheap authenticated call first: it renews an expired access token.
    await api.request("/api/v1/auth/me", { what: "Checking your sign-in" });
    const recording = await ui.busy(`Uploading ${file.name}…`, send(new FormData($("upload-form"))));
    showUploadProgress(1, 1);
    ui.status(`Uploaded ${file.name}: its transcription is queued.`);
    $("upload-form").reset();
    $("upload-progress").value = 100;
    await loadRouting();
    await loadRecordings();
    await loadReports();
    return recording;
  } catch (error) {
    ui.error(error.message);
    ui.status("");
  } finally {
    $("upload-button").disabled = false;
  }
}

// ---- recordings and jobs -----------------------------------------------------------------

function stopPolling() {
  clearTimeout(state.poll);
  state.poll = null;
}

function progressCell(recording) {
  const job = recording.job;
  if (!job) return "–";
  return h("span", { class: "job", dataset: { status: job.status } },
    h("progress", { max: Math.max(job.stages_total, 1), value: job.stages_done,
      "aria-label": `Stages done of ${recording.original_filename ?? "the recording"}` }),
    ` ${job.stages_done} / ${job.stages_total} stages, ${job.status}`);
}

async function jobAction(jobId, action) {
  ui.error("");
  try {
    await api.request(`/api/v1/analysis/jobs/${jobId}/${action}`, {
      method: "POST", what: action === "cancel" ? "Cancelling the job" : "Retrying the job",
    });
    await loadRecordings();
  } catch (error) {
    ui.error(error.message);
  }
}

function actionsCell(recording) {
  const job = recording.job;
  const name = recording.original_filename ?? `recording ${recording.id}`;
  return h("span", { class: "actions" },
    h("button", { type: "button", disabled: recording.status !== "transcribed",
      "aria-label": `Transcript of ${name}`,
      onclick: () => openTranscript(recording.id).catch((e) => ui.error(e.message)) }, "Transcript"),
    job && ACTIVE.has(job.status)
      ? h("button", { type: "button", class: "danger", onclick: () => jobAction(job.job_id, "cancel") }, "Cancel")
      : null,
    job && (job.status === "failed" || job.status === "cancelled")
      ? h("button", { type: "button", onclick: () => jobAction(job.job_id, "retry") }, "Retry")
      : null);
}

async function loadRecordings() {
  stopPolling();
  const page = await api.request("/api/v1/analysis/recordings", {
    query: { size: 50 }, what: "Loading the recordings",
  });
  const rows = page.items.map((r) => [
    r.original_filename ?? `#${r.id}`, r.place ?? "–", r.recorded_on ?? when(r.created_at),
    r.status, progressCell(r), actionsCell(r),
  ]);
  $("recordings-list").replaceChildren(page.items.length
    ? table("Recordings, newest first", ["File", "Place", "Recorded", "Status", "Progress", ""], rows,
      { id: "recordings-table" })
    : h("p", { class: "hint" }, "No recordings yet."));
  if (page.items.some((r) => r.job && ACTIVE.has(r.job.status)) && api.user) {
    state.poll = setTimeout(() => loadRecordings().catch((error) => ui.error(error.message)), POLL_MS);
  }
}

// ---- transcript and player -------------------------------------------------------------

function closeTranscript() {
  $("player").pause();
  $("player").removeAttribute("src");
  state.recordingId = null;
  state.words = [];
  $("transcript").hidden = true;
}

/** Point the player at a fresh signed link of the recording's audio: it streams and seeks
 * with Range requests, instead of downloading the whole file first. */
async function streamAudio(recordingId) {
  const link = await api.request(`/api/v1/analysis/recordings/${recordingId}/audio-link`,
    { what: "Loading the recording" });
  const player = $("player");
  const loaded = new Promise((resolve, reject) => {
    player.addEventListener("loadedmetadata", resolve, { once: true });
    player.addEventListener("error", () => reject(new Error("The recording could not be played.")), { once: true });
  });
  player.src = link.url;
  await loaded;
}

/** A link that expired while the recording was open: take a new one and carry on. */
async function renewAudio() {
  const recordingId = state.recordingId;
  // At most one renewal a minute: a link refused for another reason stays refused.
  if (recordingId === null || Date.now() - (state.renewedAt ?? 0) < 60_000) return;
  state.renewedAt = Date.now();
  const player = $("player");
  const [at, playing] = [player.currentTime, !player.paused];
  await streamAudio(recordingId);
  player.currentTime = at;
  if (playing) await player.play().catch(() => {});
}

function renderTranscript(transcript) {
  state.words = [];
  const segments = transcript.segments.map((segment) => h("p", { class: "segment" },
    h("span", { class: "time" }, clock(segment.start)),
    segment.words.flatMap((word) => {
      const node = h("button", { type: "button", class: "word", dataset: { start: word.start },
        onclick: () => playFrom(word.start) }, word.word);
      state.words.push({ start: word.start, end: word.end, node });
      return [node, " "];
    })));
  $("transcript-text").replaceChildren(...(segments.length ? segments : [h("p", { class: "hint" }, "No words were heard.")]));
}

async function openTranscript(recordingId, at) {
  if (state.recordingId !== recordingId) {
    closeTranscript();
    const transcript = await ui.busy("Loading the transcript…",
      api.request(`/api/v1/analysis/recordings/${recordingId}/transcript`, { what: "Loading the transcript" }));
    renderTranscript(transcript);
    await ui.busy("Loading the recording…", streamAudio(recordingId));
    state.recordingId = recordingId;
    $("transcript-title").textContent = `Transcript of recording ${recordingId}`;
    ui.status("Transcript loaded: click a word to hear it.");
  }
  $("transcript").hidden = false;
  $("transcript").scrollIntoView({ block: "start" });
  if (at !== undefined) await playFrom(at);
}

async function playFrom(seconds) {
  const player = $("player");
  player.currentTime = seconds;
  follow();
  await player.play().catch(() => {});
}

/** Mark the word being heard (the last word starting at or before the player's time). */
function follow() {
  const t = $("player").currentTime;
  let low = 0;
  let high = state.words.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (state.words[mid].start <= t + 0.01) { found = mid; low = mid + 1; } else high = mid - 1;
  }
  const word = found >= 0 ? state.words[found].node : null;
  if (word === state.speaking) return;
  state.speaking?.classList.remove("speaking");
  state.speaking?.removeAttribute("aria-current");
  word?.classList.add("speaking");
  word?.setAttribute("aria-current", "true");
  state.speaking = word;
}

// ---- report types and the last routing ---------------------------------------------------

async function loadReportTypes() {
  const types = await api.request("/api/v1/analysis/reports/types", { what: "Loading the report types" });
  state.reportTypes = types.report_types;
  const needing = types.report_types.filter((t) => t.needs_llm).map((t) => t.name);
  $("llm-note").textContent = types.llm_configured
    ? "A language model is configured: every report type can be made."
    : needing.length
      ? `Without a language model (NEWSPEECH_LLM_API_URL is not set) these report types cannot be made: ${[...new Set(needing)].join(", ")}. The transcript report always can.`
      : "";
  const filter = $("reports-type");
  const seen = new Set();
  filter.replaceChildren(new Option("Any", ""), ...types.report_types
    .filter((t) => !seen.has(t.key) && seen.add(t.key))
    .map((t) => new Option(t.name, t.key)));
  const buildings = [...new Set(types.report_types.flatMap((t) => t.building_types))].sort();
  $("upload-building").replaceChildren(new Option("None", ""),
    ...buildings.map((key) => new Option(key[0].toUpperCase() + key.slice(1), key)));
  renderReportTypeChoices([]);
}

/** One checkbox per report type of the chosen scenario; ``checked`` keys are ticked. */
function renderReportTypeChoices(checked) {
  const scenario = $("upload-scenario").value;
  const boxes = state.reportTypes.filter((t) => t.scenario === scenario && t.key !== "transcript")
    .map((t) => h("label", { class: t.available ? null : "needs-llm" },
      h("input", { type: "checkbox", name: "report_types", value: t.key,
        checked: checked.includes(t.key), disabled: !t.available }),
      ` ${t.name}`, t.needs_llm && !t.available ? " (needs NEWSPEECH_LLM_API_URL)" : ""));
  $("upload-report-type-list").replaceChildren(...(boxes.length ? boxes
    : [h("p", { class: "hint" }, "This scenario has no report types besides the transcript.")]));
}

/** A dictionary name's key as the server makes it (case folded, spaces collapsed). */
function nameKey(name) {
  return name.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

/** Offer the scenario, report types and building type this analyst chose last time. */
async function loadRouting() {
  const routing = await api.request("/api/v1/analysis/routing", { what: "Loading your last choices" });
  if (!routing.scenario) {
    renderReportTypeChoices([]);
    $("routing-note").textContent = "";
    return;
  }
  $("upload-scenario").value = routing.scenario;
  $("upload-building").value = routing.building_type ? nameKey(routing.building_type) : "";
  renderReportTypeChoices(routing.report_types);
  $("routing-note").textContent = "Your choices from your last upload are filled in.";
}

// ---- reports ---------------------------------------------------------------------------

function reportFilters() {
  const query = { size: 50 };
  for (const control of $("reports-form").elements) {
    if (control.name && control.value.trim()) query[control.name] = control.value.trim();
  }
  return query;
}

function stopReportsPolling() {
  clearTimeout(state.reportsPoll);
  state.reportsPoll = null;
}

async function loadReports() {
  stopReportsPolling();
  const page = await api.request("/api/v1/analysis/reports", { query: reportFilters(), what: "Loading the reports" });
  const rows = page.items.map((r) => {
    const name = `${r.report_type_name} of recording ${r.recording_id}`;
    const ready = r.status === "ready";
    return [
      r.report_type_name + (r.needs_llm ? " (LLM)" : ""), `#${r.recording_id}`, r.place ?? "–",
      r.city ?? "–", r.report_date ?? when(r.created_at), r.status, String(r.runs.length),
      h("span", { class: "actions" },
        h("button", { type: "button", disabled: !ready, "aria-label": `Read ${name}`,
          onclick: () => openReport(r.id).catch((e) => ui.error(e.message)) }, "Read"),
        h("button", { type: "button", disabled: !ready, "aria-label": `PDF of ${name}`,
          onclick: () => downloadReport(r.id, "pdf").catch((e) => ui.error(e.message)) }, "PDF"),
        h("button", { type: "button", disabled: !ready, "aria-label": `Markdown of ${name}`,
          onclick: () => downloadReport(r.id, "md").catch((e) => ui.error(e.message)) }, "Markdown"),
        h("button", { type: "button", "aria-label": `Run ${name} again`,
          onclick: () => rerunReport(r.id).catch((e) => ui.error(e.message)) }, "Run again")),
    ];
  });
  $("reports-list").replaceChildren(page.items.length
    ? table(`Reports (${page.total})`, ["Report", "Recording", "Place", "City", "Date", "Status", "Runs", ""],
      rows, { id: "reports-table" })
    : h("p", { class: "hint" }, "No report matches."));
  if (page.items.some((r) => r.status === "pending") && api.user) {
    state.reportsPoll = setTimeout(() => loadReports().catch((error) => ui.error(error.message)), POLL_MS);
  }
}

const SAFE_TAGS = new Set(["H1", "H2", "H3", "H4", "H5", "H6", "P", "UL", "OL", "LI", "STRONG",
  "EM", "CODE", "PRE", "BLOCKQUOTE", "HR", "BR", "TABLE", "THEAD", "TBODY", "TR", "TH", "TD", "A"]);

/** The server's HTML of the report (its Markdown with HTML escaped), checked once more here:
 * only the tags Markdown makes, no attributes but an http(s) link's href. */
function safeFragment(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  for (const node of [...doc.body.querySelectorAll("*")]) {
    if (!SAFE_TAGS.has(node.tagName)) {
      node.replaceWith(doc.createTextNode(node.textContent));
      continue;
    }
    const href = node.tagName === "A" ? node.getAttribute("href") : null;
    for (const attribute of [...node.attributes]) node.removeAttribute(attribute.name);
    if (href && /^https?:\/\//i.test(href)) {
      node.setAttribute("href", href);
      node.setAttribute("rel", "noopener noreferrer");
      node.setAttribute("target", "_blank");
    }
  }
  return [...doc.body.childNodes];
}

async function openReport(reportId) {
  const report = await ui.busy("Loading the report…",
    api.request(`/api/v1/analysis/reports/${reportId}`, { what: "Loading the report" }));
  $("report-view-title").textContent = `${report.report_type_name} — recording ${report.recording_id}`;
  const latest = report.runs.filter((r) => r.status === "done").at(-1);
  $("report-view-facts").textContent = [
    report.place, report.city, report.building_type, report.report_date,
    latest ? `run ${latest.number}${latest.model ? ` by ${latest.model}` : ""}` : null,
  ].filter(Boolean).join(" · ");
  $("report-view-body").replaceChildren(...(report.html ? safeFragment(report.html)
    : [h("p", { class: "hint" }, "This report has no finished run yet.")]));
  $("report-view").hidden = false;
  $("report-view").scrollIntoView({ block: "start" });
  ui.status(`Report ${reportId} loaded.`);
}

async function downloadReport(reportId, format) {
  const blob = await ui.busy("Downloading the report…",
    api.blob(`/api/v1/analysis/reports/${reportId}/download?format=${format}`, "Downloading the report"));
  download(blob, `report-${reportId}.${format}`);
  ui.status(`Report ${reportId} downloaded as ${format === "pdf" ? "PDF" : "Markdown"}.`);
}

async function rerunReport(reportId) {
  ui.error("");
  const rerun = await api.request(`/api/v1/analysis/reports/${reportId}/runs`,
    { method: "POST", what: "Running the report again" });
  ui.status(`Report ${reportId}: run ${rerun.run.number} is queued.`);
  await loadRecordings();
  await loadReports();
}

async function filterReports(event) {
  event.preventDefault();
  ui.error("");
  $("report-view").hidden = true;
  try {
    await loadReports();
  } catch (error) {
    ui.error(error.message);
  }
}

// ---- search ----------------------------------------------------------------------------

function snippet(text, highlights) {
  const parts = [];
  let at = 0;
  for (const [start, end] of highlights) {
    parts.push(text.slice(at, start), h("mark", {}, text.slice(start, end)));
    at = end;
  }
  parts.push(text.slice(at));
  return parts;
}

async function search(event) {
  event.preventDefault();
  ui.error("");
  const q = $("search-q").value.trim();
  if (!q) {
    ui.error("Type a word or a phrase to search for.");
    $("search-q").focus();
    return;
  }
  try {
    const results = await ui.busy("Searching…", api.request("/api/v1/analysis/search", {
      query: { q, place: $("search-place").value.trim(), city: $("search-city").value.trim(), limit: 50 },
      what: "Searching",
    }));
    const items = results.items.map((hit) => h("li", {},
      h("button", { type: "button", class: "hit-jump",
        onclick: () => openTranscript(hit.recording_id, hit.hit_seconds).catch((e) => ui.error(e.message)) },
      h("strong", {}, `${hit.original_filename ?? `Recording ${hit.recording_id}`} at ${clock(hit.hit_seconds)}`),
      ": ", ...snippet(hit.text, hit.highlights))));
    $("search-results").replaceChildren(...(items.length ? items : [h("li", {}, "No transcript says that.")]));
    ui.status(`${items.length}${results.has_more ? "+" : ""} hit${items.length === 1 ? "" : "s"} for ${q}.`);
  } catch (error) {
    ui.error(error.message);
    ui.status("");
  }
}

// ---- wiring ----------------------------------------------------------------------------

api.onSignedOut = () => {
  api.accessToken = null;
  api.user = null;
  closeTranscript();
  showSignIn("Your sign-in has expired. Sign in again to continue.");
};

$("sign-in-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", signOut);
$("upload-form").addEventListener("submit", upload);
$("search-form").addEventListener("submit", search);
$("reports-form").addEventListener("submit", filterReports);
$("upload-scenario").addEventListener("change", () => renderReportTypeChoices([]));
$("player").addEventListener("timeupdate", follow);
$("player").addEventListener("seeked", follow);
// An expired link answers 403 to the player's next Range request: renew it and go on.
$("player").addEventListener("error", () => {
  if (state.recordingId !== null) renewAudio().catch((error) => ui.error(error.message));
});

/** Read-only state for diagnostics and the browser tests. */
window.newspeechAnalyst = {
  user: () => api.user, recording: () => state.recordingId, audio: () => $("player").src, ready: false,
};

(async () => {
  const user = await api.resume();
  if (user && ANALYST_ROLES.has(user.role)) await signedIn(user);
  else showSignIn();
  window.newspeechAnalyst.ready = true;
})();
