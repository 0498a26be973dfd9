// The exam WebSocket protocol (docs/protocol.md, v1), and nothing else: a protocol change is an
// edit here. The rest of the page never sees protocol names: ExamSocket dispatches page events
// (camelCase fields, below) plus `audio` (detail: ArrayBuffer of PCM16 LE at outputSampleRate),
// `closed` (detail: {code, reason, message}) and `message` (detail: the raw server message, for
// diagnostics only).

export const EXAM_PATH = "/ws/exam";
export const INPUT_SAMPLE_RATE = 16000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (INPUT_SAMPLE_RATE * FRAME_MS) / 1000; // 320 samples = 640 bytes
export const MAX_FRAME_BYTES = 32000;

/** Server message type -> [page event, the page's view of the message]. Unknown types are
 *  ignored, so a newer server can add events without breaking an open page. */
const SERVER_EVENTS = {
  session_started: ["started", (m) => ({
    sessionCode: m.session_code,
    collegeType: m.college_type,
    totalQuestions: m.total_questions,
    outputSampleRate: m.output_audio.sample_rate,
    resumed: m.resumed === true,
  })],
  scenario: ["scenario", (m) => ({ index: m.index, description: m.description })],
  question: ["question", (m) => ({ number: m.number, total: m.total, text: m.text })],
  speaking: ["speaking", (m) => ({ utteranceId: m.utterance_id, kind: m.kind, text: m.text })],
  speaking_done: ["spoken", (m) => ({ utteranceId: m.utterance_id })],
  listening: ["listening", (m) => ({
    maxSeconds: m.max_seconds,
    resumed: m.resumed === true,
    continuable: m.continuable !== false,
  })],
  vad: ["voice", (m) => ({ speech: Boolean(m.speech) })],
  transcript: ["transcript", (m) => ({ final: Boolean(m.final), text: m.text ?? "" })],
  evaluation: ["evaluation", (m) => ({
    questionNumber: m.question_number,
    score: m.score,
    maxScore: m.max_score,
    feedback: m.feedback ?? "",
    needsReview: Boolean(m.needs_review),
  })],
  flush: ["flush", (m) => ({ utteranceId: m.utterance_id, playedMs: m.played_ms })],
  latency: ["latency", (m) => ({ ...m })],
  result: ["result", (m) => ({
    totalScore: m.total_score,
    maxScore: m.max_score,
    percentage: m.percentage,
    grade: m.grade,
    passed: Boolean(m.passed),
    answers: (m.answers ?? []).map((a) => ({
      number: a.number, question: a.question, transcript: a.transcript ?? "",
      score: a.score, feedback: a.feedback ?? "",
      // The mark in words (examiner's mark, comment and who beside the machine's original).
      markLines: (a.mark?.lines ?? []).map((line) => ({ kind: line.kind, text: line.text })),
    })),
  })],
  ended: ["ended", (m) => ({ reason: m.reason })],
  error: ["serverError", (m) => ({ code: m.error, detail: m.detail })],
  pong: ["pong", (m) => ({ id: m.id })],
};

/** A known server message as the page sees it: ``{name, detail}`` (throws when malformed). */
export function pageEvent(message) {
  const [name, view] = SERVER_EVENTS[message.type];
  return { name, detail: view(message) };
}

/** Why the exam ended (`ended.reason`), in the student's words. */
export const END_REASONS = {
  completed: "The exam is complete.",
  ended_by_student: "You ended the exam.",
  time_limit: "The exam's time limit was reached.",
  disconnected: "The exam ended because the connection dropped.",
  identity_not_confirmed: "The exam did not start: your identity was not confirmed, so nothing was scored.",
};

/** Errors that refuse a sitting before it opens, in the student's words (the server's own
 *  sentence is used when it sends one). */
export const REFUSALS = {
  taken_over: "This exam was opened again in another window or on another device, and it goes on there. What you said here is saved.",
  server_restarting: "The exam server is restarting. Your answers so far are saved: press Resume in a moment to go on where you left off.",
  attempt_limit_reached: "You have already used your attempt at this exam, so a new sitting cannot start. If you should sit it again, ask your examiner to allow another attempt.",
};

/** What to tell the student when the server refused to open the sitting with `error`. */
export function describeRefusal(error) {
  if (!error || !Object.hasOwn(REFUSALS, error.code)) return null;
  return error.detail || REFUSALS[error.code];
}

/** Close codes after which the same sitting can be resumed with its session code. */
export const RESUMABLE_CLOSE_CODES = new Set([1006, 1011, 1012]);

export const CLOSE_MESSAGES = {
  1000: "The exam has finished.",
  1006: "The connection to the exam server was lost.",
  1011: "The exam server had a problem. Your answers so far are saved; you can resume the exam.",
  1012: "The exam server is restarting. Your answers so far are saved; you can resume the exam.",
  4000: "This exam was opened again in another window or on another device, and it goes on there. What you said here is saved.",
  4400: "The exam server did not understand how the exam was started.",
  4401: "Your sign-in was refused: the token is missing, invalid or expired. Sign in again.",
  4403: "This exam sitting belongs to someone else.",
  4404: "Unknown exam session or college type.",
  4409: "This exam cannot be started or resumed in its current state.",
};

export function describeClose(code) {
  return CLOSE_MESSAGES[code] ?? `The connection closed unexpectedly (code ${code}).`;
}

/** The exam socket's URL on the page's own host (ws: next to http:, wss: next to https:). */
export function examUrl(location = window.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${EXAM_PATH}`;
}

export class ExamSocket extends EventTarget {
  constructor(url = examUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.started = false;
  }

  /** Open the socket and send the first message: `start`, or `resume` if a session code is given. */
  open({ token, collegeType, sessionCode }) {
    const first = sessionCode
      ? { type: "resume", token, session_code: sessionCode }
      : { type: "start", token, college_type: collegeType };
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify(first));
      this.started = true;
    });
    ws.addEventListener("message", (message) => this.#receive(message.data));
    ws.addEventListener("close", (event) => {
      this.started = false;
      const detail = { code: event.code, reason: event.reason, message: describeClose(event.code) };
      this.dispatchEvent(new CustomEvent("closed", { detail }));
    });
    this.ws = ws;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.started;
  }

  /** One microphone frame: an Int16Array of 16 kHz mono samples (any whole number, <= 1 s). */
  sendAudio(samples) {
    if (!this.isOpen || samples.byteLength === 0 || samples.byteLength > MAX_FRAME_BYTES) return false;
    this.ws.send(samples.buffer.byteLength === samples.byteLength ? samples.buffer : samples.slice().buffer);
    return true;
  }

  repeat() { this.#control({ type: "repeat" }); }
  skip() { this.#control({ type: "skip" }); }
  /** "I haven't finished": reopen the answer just given (the server withdraws its reply). */
  goOn() { this.#control({ type: "continue" }); }
  end() { this.#control({ type: "end" }); }
  ping(id) { this.#control({ type: "ping", id }); }

  close() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
  }

  #control(message) {
    if (this.isOpen) this.ws.send(JSON.stringify(message));
  }

  #receive(data) {
    if (data instanceof ArrayBuffer) {
      this.dispatchEvent(new CustomEvent("audio", { detail: data }));
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return; // the server only sends JSON text; nothing the student can act on
    }
    if (!message || !Object.hasOwn(SERVER_EVENTS, message.type)) return;
    this.dispatchEvent(new CustomEvent("message", { detail: message }));
    let name;
    let detail;
    try {
      ({ name, detail } = pageEvent(message));
    } catch {
      const problem = { code: "malformed_event", detail: `The server sent a malformed ${message.type} event.` };
      this.dispatchEvent(new CustomEvent("serverError", { detail: problem }));
      return;
    }
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
