// The exam page: wires the form, the microphone, the examiner's voice and the exam socket to the
// DOM. Protocol details live in protocol.js, audio in audio.js, the report in report.js.

import { Microphone, Player, describeMicrophoneError, openAudio } from "./audio.js";
import { END_REASONS, ExamSocket, RESUMABLE_CLOSE_CODES } from "./protocol.js";
import { renderEvaluation, renderReport } from "./report.js";

const $ = (id) => document.getElementById(id);
const LOG_LIMIT = 1000; // server events kept for diagnostics (a whole exam is ~200)

const page = {
  context: null, microphone: null, player: null, socket: null,
  active: false, activeSince: 0, finished: false, muted: false, sessionCode: null,
  currentUtterance: null, flushedUtterance: null,
  framesCaptured: 0, maxLevel: 0, framesSent: 0, bytesSent: 0, lastClose: null, events: {}, log: [],
  latencies: [],
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
    select.replaceChildren(...config.college_types.map((college) => {
      const option = new Option(college.name, college.code);
      if (college.description) option.title = college.description;
      return option;
    }));
    if (config.college_types.length === 0) {
      select.replaceChildren(new Option("No colleges are set up yet", ""));
      throw new Error("no college types in the database");
    }
    select.disabled = false;
    $("start").disabled = false;
    setStatus(page.linkToken
      ? "Choose your college and press Start exam."
      : "Choose your college, sign in and press Start exam.");
  } catch (error) {
    showError(`The list of colleges could not be loaded (${error.message}). Reload the page to try again.`);
    setStatus("");
  }
}

function onFrame({ frame, rms }) {
  page.framesCaptured += 1;
  // The meter shows -60..0 dBFS, the range where speech and room noise differ.
  const decibels = 20 * Math.log10(Math.max(rms, 1e-6));
  const level = page.muted ? 0 : Math.min(1, Math.max(0, (decibels + 60) / 60));
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
  $("start").disabled = true;
  const token = await signIn();
  if (!token) {
    $("start").disabled = false;
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
    $("question-total").textContent = e.totalQuestions;
    $("progress").max = e.totalQuestions;
    $("setup").hidden = true;
    $("report").hidden = true;
    $("exam").hidden = false;
    $("exam-title").focus();
    setStatus(`Exam started. Your session code is ${e.sessionCode}.`);
  });
  on("scenario", (e) => { $("scenario").textContent = `Case ${e.index}: ${e.description}`; });
  on("question", (e) => {
    $("question-number").textContent = e.number;
    $("progress").value = e.number;
    $("question").textContent = e.text;
    $("student-caption").textContent = "";
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
  on("listening", (e) => {
    $("turn").textContent = "Your turn";
    setStatus(`Listening: answer when you are ready (up to ${Math.round(e.maxSeconds)} seconds).`);
  });
  on("voice", (e) => { $("turn").textContent = e.speech ? "You are speaking" : "Your turn"; });
  on("transcript", (e) => {
    $("student-caption").textContent = e.text;
    $("student-caption").classList.toggle("partial", !e.final);
  });
  on("evaluation", (e) => {
    $("evaluations-title").hidden = false;
    $("evaluations").append(renderEvaluation(e));
  });
  on("flush", (e) => {
    page.player.flush();
    page.flushedUtterance = e.utteranceId;
    $("turn").textContent = "You are speaking";
  });
  on("latency", (e) => { page.latencies.push(e); });
  on("result", (e) => {
    renderReport(e, { summary: $("report-summary"), rows: $("report-rows") });
    $("report").hidden = false;
    $("report-title").focus();
  });
  on("ended", (e) => {
    page.finished = true;
    page.sessionCode = null;
    $("exam").hidden = true;
    setStatus(END_REASONS[e.reason] ?? "The exam has ended.");
  });
  on("serverError", (e) => { showError(`${e.detail} (${e.code})`); });
  on("pong", () => {});
  on("closed", (e) => {
    page.lastClose = { code: e.code, reason: e.reason };
    const wasFinished = page.finished;
    teardown();
    if (!wasFinished) {
      showError(`${e.message} (close code ${e.code}${e.reason ? `: ${e.reason}` : ""})`);
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
  $("level").value = 0;
  $("turn").textContent = "";
  $("start").disabled = $("college").disabled;
}

function toggleMute() {
  page.muted = !page.muted;
  $("mute").setAttribute("aria-pressed", String(page.muted));
  $("mute").textContent = page.muted ? "Unmute microphone" : "Mute microphone";
  setStatus(page.muted ? "Microphone muted: the examiner hears nothing." : "Microphone on.");
}

function endExam() {
  if (page.socket?.isOpen) {
    setStatus("Ending the exam…");
    page.socket.end();
  } else {
    teardown();
  }
}

function resetExamView() {
  for (const id of ["scenario", "question", "examiner-caption", "student-caption", "turn"]) {
    $(id).textContent = "";
  }
  $("question-number").textContent = "0";
  $("progress").value = 0;
  $("evaluations").replaceChildren();
  $("evaluations-title").hidden = true;
  $("report-rows").replaceChildren();
  $("report-summary").textContent = "";
}

function again() {
  $("report").hidden = true;
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
$("end").addEventListener("click", endExam);
$("again").addEventListener("click", again);
page.linkToken = new URLSearchParams(window.location.search).get("token");
if (page.linkToken) {
  $("sign-in").hidden = true;
  $("token-note").hidden = false;
}
loadConfig();
