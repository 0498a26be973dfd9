// The exam WebSocket protocol (docs/protocol.md, v1), and nothing else: a protocol change is an
// edit here. The rest of the page sees an EventTarget that dispatches one event per server message
// (event.type is the message's `type`, event.detail its fields) plus `audio` (detail: ArrayBuffer
// of PCM16 LE at output_audio.sample_rate) and `closed` (detail: {code, reason, message}).

export const EXAM_PATH = "/ws/exam";
export const INPUT_SAMPLE_RATE = 16000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (INPUT_SAMPLE_RATE * FRAME_MS) / 1000; // 320 samples = 640 bytes
export const MAX_FRAME_BYTES = 32000;

/** Server event types the page understands; anything else is ignored (forward compatible). */
export const SERVER_EVENTS = new Set([
  "session_started", "scenario", "question", "speaking", "speaking_done", "listening", "vad",
  "transcript", "evaluation", "flush", "latency", "result", "ended", "error", "pong",
]);

export const CLOSE_MESSAGES = {
  1000: "The exam has finished.",
  1006: "The connection to the exam server was lost.",
  1011: "The exam server had a problem. Your answers so far are saved; you can resume the exam.",
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
      return; // not ours to fix: the server only sends JSON text
    }
    if (message && SERVER_EVENTS.has(message.type)) {
      this.dispatchEvent(new CustomEvent(message.type, { detail: message }));
    }
  }
}
