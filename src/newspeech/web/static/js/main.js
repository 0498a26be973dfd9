// The exam page: wires the form, the microphone, the examiner's voice and the exam socket to the
// DOM. Protocol details live in protocol.js, audio in audio.js, the report in report.js.

import { Microphone, Player, describeMicrophoneError, openAudio } from "./audio.js";
import { END_REASONS, ExamSocket, RESUMABLE_CLOSE_CODES, describeRefusal } from "./protocol.js";
import { renderEvaluation, renderReport } from "./report.js";

const $ = (id) => document.getElementById(id);
const LOG_LIMIT = 1000; // server events kept for diagnostics (a whole exam is ~200)
// The meter shows -55..-10 dBFS: room noise after noise suppression sits below the bottom, a
// voice near the microphone fills most of it. It rises at once and falls over ~0.4 s, so it
// follows syllables instead of flickering with every 20 ms frame.
const METER_FLOOR_DB = -55;
const METER_CEILING_DB = -10;
const METER_FALL_PER_FRAME = 0.05;
const END_WARNINGS = {
  identity: "Your identity is not confirmed yet, so the exam has not started and nothing is scored. You cannot continue this sitting.",
  exam: "Unanswered questions score 0 and you cannot continue this sitting.",
};

const page = {
  context: null, microphone: null, player: null, socket: null,
  active: false, activeSince: 0, finished: false, muted: false, sessionCode: null,
  questionNumber: 0, totalQuestions: 0, reported: false, level: 0, answering: false,
  currentUtterance: null, flushedUtterance: null,
  framesCaptured: 0, maxLevel: 0, framesSent: 0, bytesSent: 0, lastClose: null, events: {}, log: [],
  latencies: [], refusal: null,
};

function setStatus(text) { $("status").textContent = text; }

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
}

function clearError() {
  $("error").textContent = "";
  $("error").hidden = true;
}

async function loadConfig() {
  const select = $("college");
  try {
    const response = await fetch("/web/config.json", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const config = await response.json();
    // No college is chosen for the student: the placeholder stays until they pick one.
    const placeholder = new Option("Choose your college", "", true, true);
    placeholder.disabled = true;
    select.replaceChildren(placeholder, ...config.college_types.map((college) => {
      const option = new Option(college.name, college.code);
      if (college.description) option.title = college.description;
      return option;
    }));
    if (config.college_types.length === 0) {
      select.replaceChildren(new Option("No colleges are set up yet", ""));
      throw new Error("no college types in the database");
    }
    select.disabled = false;
    updateStart();
    setStatus(page.linkToken
      ? "Choose your college and press Start exam."
      : "Choose your college, sign in and press Start exam.");
  } catch (error) {
    showError(`The list of colleges could not be loaded (${error.message}). Reload the page to try again.`);
    setStatus("");
  }
}

/** Start needs a chosen college, and nothing in progress. */
function updateStart() {
  $("start").disabled = $("college").disabled || !$("college").value || page.active;
}

function onFrame({ frame, rms }) {
  page.framesCaptured += 1;
  const decibels = 20 * Math.log10(Math.max(rms, 1e-6));
  const heard = (decibels - METER_FLOOR_DB) / (METER_CEILING_DB - METER_FLOOR_DB);
  const level = page.muted ? 0 : Math.min(1, Math.max(0, heard, page.level - METER_FALL_PER_FRAME));
  page.level = level;
  $("level").value = level;
  page.maxLevel = Math.max(page.maxLevel, level);
  if (page.active && !page.muted && page.socket.sendAudio(frame)) {
    page.framesSent += 1;
    page.bytesSent += frame.byteLength;
  }
}

async function postJson(url, payload) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
  return { ok: response.ok, status: response.status, body: await response.json().catch(() => ({})) };
}

/** The access token for the exam socket: the link's, or one from signing in with the API. */
async function signIn() {
  if (page.linkToken) return page.linkToken;
  if (page.refreshToken) {
    // Access tokens are short-lived; a resume an hour later needs a fresh one.
    const refreshed = await postJson("/api/v1/auth/refresh", { refresh_token: page.refreshToken })
      .catch(() => ({ ok: false }));
    if (refreshed.ok) {
      page.accessToken = refreshed.body.access_token;
      page.refreshToken = refreshed.body.refresh_token;
      return page.accessToken;
    }
    page.refreshToken = null;
    $("sign-in").hidden = false;
  }
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    showError("Enter your user name and password first.");
    $(username ? "password" : "username").focus();
    return null;
  }
  setStatus("Signing in…");
  try {
    const response = await postJson("/api/v1/auth/login", { username, password });
    const body = response.body;
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail : "check your user name and password";
      showError(response.status === 429
        ? `Too many attempts: ${detail}`
        : `Sign-in failed: ${detail}.`);
      setStatus("");
      return null;
    }
    page.refreshToken = body.refresh_token;
    $("password").value = "";
    $("sign-in").hidden = true;
    return body.access_token;
  } catch (error) {
    showError(`The server could not be reached to sign in (${error.message}).`);
    setStatus("");
    return null;
  }
}

/** Start a new sitting, or resume the interrupted one when `sessionCode` is given. */
async function start(event, sessionCode = null) {
  event.preventDefault();
  clearError();
  $("resume").hidden = true;
  const collegeType = $("college").value;
  if (!sessionCode && !collegeType) {
    showError("Choose your college first.");
    $("college").focus();
    return;
  }
  $("start").disabled = true;
  const token = await signIn();
  if (!token) {
    updateStart();
    return;
  }
  if (!sessionCode) resetExamView();
  setStatus("Opening the microphone…");
  try {
    page.context = await openAudio();
    page.microphone = new Microphone(page.context, onFrame, () => {
      showError("The microphone stopped working. Reconnect it; the examiner hears nothing until then.");
    });
    await page.microphone.start();
  } catch (error) {
    showError(describeMicrophoneError(error));
    setStatus("");
    teardown();
    return;
  }
  page.player = new Player(page.context);
  page.finished = false;
  page.refusal = null;
  page.socket = new ExamSocket();
  wire(page.socket);
  setStatus("Connecting to the examiner…");
  page.socket.open({ token, collegeType, sessionCode });
}

function wire(socket) {
  const on = (type, handler) => socket.addEventListener(type, (event) => {
    page.events[type] = (page.events[type] ?? 0) + 1;
    handler(event.detail);
  });
  on("message", (message) => { if (page.log.length < LOG_LIMIT) page.log.push(message); });
  on("started", (e) => {
    page.active = true;
    page.sessionCode = e.sessionCode;
    page.activeSince = performance.now();
    page.player.configure(e.outputSampleRate);
    page.totalQuestions = e.totalQuestions;
    page.answering = false; // a resumed sitting starts between answers
    $("go-on").disabled = true;
    $("progress").max = e.totalQuestions;
    showProgress();
    $("setup").hidden = true;
    $("report").hidden = true;
    $("ended").hidden = true;
    $("exam").hidden = false;
    $("exam-title").focus();
    // Signing in again while a sitting is unfinished opens that sitting, never a new one.
    setStatus(e.resumed
      ? `Your exam continues where it stopped (session code ${e.sessionCode}). Questions you have already answered are not asked again.`
      : `Exam started. Your session code is ${e.sessionCode}.`);
  });
  on("scenario", (e) => { $("scenario").textContent = `Case ${e.index}: ${e.description}`; });
  on("question", (e) => {
    // The "You" caption keeps the last answer heard until the next answer starts.
    page.questionNumber = e.number;
    if (e.total) page.totalQuestions = e.total;
    showProgress();
    $("question").textContent = e.text;
  });
  on("speaking", (e) => {
    page.currentUtterance = e.utteranceId;
    $("examiner-caption").textContent = e.text;
    $("turn").textContent = "Examiner speaking";
  });
  on("audio", (buffer) => {
    if (page.player && page.currentUtterance !== page.flushedUtterance) page.player.enqueue(buffer);
  });
  on("spoken", () => { $("turn").textContent = ""; });
  // "Listening…" only from the server's `listening` until speech or the examiner's next words.
  on("listening", (e) => {
    $("turn").textContent = e.resumed
      ? "Go on, the examiner is listening to the rest of your answer…"
      : `Listening… answer when you are ready (up to ${Math.round(e.maxSeconds)} seconds)`;
    if (e.resumed) $("go-on").disabled = true;
    page.continuable = e.continuable !== false; // a yes / no (identity) cannot be reopened
  });
  on("voice", (e) => {
    if (e.speech && !page.answering) {
      // A new answer starts (speech after a pause within one answer does not count).
      page.answering = true;
      $("go-on").disabled = true; // a new answer: the last one can no longer go on
      $("student-caption").textContent = "";
      $("student-caption").classList.remove("partial");
    }
    $("turn").textContent = e.speech ? "You are speaking" : "";
  });
  on("transcript", (e) => {
    if (e.final) {
      page.answering = false;
      // The answer was taken: the student may add to it (not to a yes / no).
      $("go-on").disabled = !page.continuable;
    }
    $("student-caption").textContent = e.text;
    $("student-caption").classList.toggle("partial", !e.final);
  });
  on("evaluation", (e) => {
    $("evaluations-title").hidden = false;
    // An answer that went on is graded again: its new mark replaces the first one.
    const earlier = [...$("evaluations").children].find(
      (item) => item.dataset.question === String(e.questionNumber),
    );
    if (earlier) earlier.replaceWith(renderEvaluation(e));
    else $("evaluations").append(renderEvaluation(e));
  });
  on("flush", (e) => {
    page.player.flush();
    page.flushedUtterance = e.utteranceId;
    $("turn").textContent = "You are speaking";
  });
  on("latency", (e) => { page.latencies.push(e); });
  on("result", (e) => {
    page.reported = true;
    renderReport(e, { summary: $("report-summary"), rows: $("report-rows") });
    $("report").hidden = false;
    $("report-title").focus();
  });
  on("ended", (e) => {
    page.finished = true;
    page.sessionCode = null;
    $("exam").hidden = true;
    closeEndDialog();
    const reason = END_REASONS[e.reason] ?? "The exam has ended.";
    if (page.reported) {
      setStatus(reason);
    } else {
      // No result to show (e.g. ended before the identity was confirmed): say so, and offer
      // the way back instead of leaving an empty page.
      setStatus("");
      $("ended-message").textContent = reason;
      $("ended").hidden = false;
      $("ended-title").focus();
    }
  });
  on("serverError", (e) => {
    // A refusal to open, the sitting taken over by a newer tab, or the server restarting:
    // the page says what to do.
    const endsHere = e.code === "taken_over" || e.code === "server_restarting";
    const refusal = page.active && !endsHere ? null : describeRefusal(e);
    if (refusal) page.refusal = refusal;
    showError(refusal ?? `${e.detail} (${e.code})`);
  });
  on("pong", () => {});
  on("closed", (e) => {
    page.lastClose = { code: e.code, reason: e.reason };
    const wasFinished = page.finished;
    teardown();
    if (!wasFinished) {
      // A refused start keeps the server's reason: it says what to do next.
      showError(page.refusal ?? `${e.message} (close code ${e.code}${e.reason ? `: ${e.reason}` : ""})`);
      setStatus("");
      $("exam").hidden = true;
      $("setup").hidden = false;
      $("resume").hidden = !(page.sessionCode && RESUMABLE_CLOSE_CODES.has(e.code));
    }
  });
}

function teardown() {
  page.active = false;
  page.microphone?.stop();
  page.microphone = null;
  page.player?.close();
  page.context?.close();
  page.context = null;
  page.socket?.close();
  page.level = 0;
  $("level").value = 0;
  $("turn").textContent = "";
  closeEndDialog();
  updateStart();
}

function toggleMute() {
  page.muted = !page.muted;
  $("mute").setAttribute("aria-pressed", String(page.muted));
  $("mute").textContent = page.muted ? "Unmute microphone" : "Mute microphone";
  setStatus(page.muted ? "Microphone muted: the examiner hears nothing." : "Microphone on.");
}

function showProgress() {
  $("progress").value = page.questionNumber;
  $("progress-label").textContent = page.questionNumber > 0
    ? `Question ${page.questionNumber} of ${page.totalQuestions}`
    : "Confirming your identity";
}

/** "End exam" only asks; the sitting ends when the student confirms in the dialog. */
function askToEnd() {
  if (!page.socket?.isOpen) {
    teardown();
    return;
  }
  $("end-dialog-text").textContent = END_WARNINGS[page.questionNumber > 0 ? "exam" : "identity"];
  $("end-dialog").returnValue = "";
  $("end-dialog").showModal();
}

function closeEndDialog() {
  if ($("end-dialog").open) $("end-dialog").close("");
}

function onEndDialogClosed() {
  if ($("end-dialog").returnValue !== "end") {
    $("end").focus();
    return;
  }
  if (page.socket?.isOpen) {
    setStatus("Ending the exam…");
    page.socket.end();
  }
}

function resetExamView() {
  for (const id of ["scenario", "question", "examiner-caption", "student-caption", "turn"]) {
    $(id).textContent = "";
  }
  page.questionNumber = 0;
  page.reported = false;
  page.answering = false;
  showProgress();
  $("evaluations").replaceChildren();
  $("evaluations-title").hidden = true;
  $("report-rows").replaceChildren();
  $("report-summary").textContent = "";
}

function again() {
  $("report").hidden = true;
  $("ended").hidden = true;
  $("exam").hidden = true;
  $("setup").hidden = false;
  resetExamView();
  $("college").focus();
}

/** Read-only numbers for diagnostics and the browser tests. */
window.newspeechExam = {
  diagnostics: () => ({
    active: page.active,
    finished: page.finished,
    muted: page.muted,
    sessionCode: page.sessionCode,
    framesCaptured: page.framesCaptured,
    maxLevel: page.maxLevel,
    activeSeconds: page.active ? (performance.now() - page.activeSince) / 1000 : null,
    contextSampleRate: page.context?.sampleRate ?? null,
    framesSent: page.framesSent,
    bytesSent: page.bytesSent,
    playback: page.player ? { ...page.player.state } : null,
    lastClose: page.lastClose,
    events: { ...page.events },
    log: structuredClone(page.log),
    latencies: [...page.latencies],
  }),
};

$("start-form").addEventListener("submit", (event) => start(event));
$("resume").addEventListener("click", (event) => start(event, page.sessionCode));
$("mute").addEventListener("click", toggleMute);
$("repeat").addEventListener("click", () => page.socket?.repeat());
$("skip").addEventListener("click", () => page.socket?.skip());
$("go-on").addEventListener("click", () => {
  $("go-on").disabled = true;
  page.socket?.goOn();
});
$("end").addEventListener("click", askToEnd);
$("end-cancel").addEventListener("click", () => $("end-dialog").close(""));
$("end-confirm").addEventListener("click", (event) => {
  // The second click of a double click on "End exam" may land here: only a click of its own
  // (detail 1) or the keyboard (detail 0) ends the sitting.
  if (event.detail <= 1) $("end-dialog").close("end");
});
$("end-dialog").addEventListener("close", onEndDialogClosed);
$("again").addEventListener("click", again);
$("back").addEventListener("click", again);
$("college").addEventListener("change", () => {
  clearError();
  updateStart();
});
page.linkToken = new URLSearchParams(window.location.search).get("token");
if (page.linkToken) {
  $("sign-in").hidden = true;
  $("token-note").hidden = false;
}
loadConfig();
