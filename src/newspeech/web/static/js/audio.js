// The page's audio: the microphone (AudioWorklet -> 16 kHz PCM16 frames) and the examiner's voice
// (PCM16 at the announced rate -> a playback queue in an AudioWorklet that a flush clears at once).

import { FRAME_SAMPLES, INPUT_SAMPLE_RATE } from "./protocol.js";

const WORKLETS = ["capture-worklet.js", "playback-worklet.js"];

/** One AudioContext for the sitting, with both worklets loaded. Call it straight from the
 *  click: the context is created and resumed before the first await, while the browser still
 *  counts the click as a user gesture (Safari refuses to start audio later). */
export async function openAudio() {
  const context = new AudioContext({ latencyHint: "interactive" });
  const resumed = context.resume();
  for (const name of WORKLETS) {
    await context.audioWorklet.addModule(new URL(name, import.meta.url));
  }
  await resumed;
  return context;
}

/** Why the microphone could not be opened, in words a student can act on. */
export function describeMicrophoneError(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone permission was denied. Allow this site to use the microphone (the icon in the address bar) and press Start again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Connect a microphone and press Start again.";
    case "NotReadableError":
    case "AbortError":
      return "The microphone is busy or not working. Close other programs that use it and press Start again.";
    default:
      return `The microphone could not be opened (${error?.name ?? "unknown error"}).`;
  }
}

export class Microphone {
  constructor(context, onFrame, onLost = () => {}) {
    this.context = context;
    this.onFrame = onFrame;
    this.onLost = onLost; // the device went away mid-exam (unplugged, revoked)
    this.stream = null;
    this.nodes = [];
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia) {
      const error = new Error("getUserMedia is unavailable (the page must be served over HTTPS)");
      error.name = "SecurityError";
      throw error;
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
      video: false,
    });
    for (const track of this.stream.getAudioTracks()) {
      track.addEventListener("ended", () => this.onLost());
    }
    const source = this.context.createMediaStreamSource(this.stream);
    const capture = new AudioWorkletNode(this.context, "pcm16-capture", {
      processorOptions: { targetRate: INPUT_SAMPLE_RATE, frameSamples: FRAME_SAMPLES },
    });
    capture.port.onmessage = (event) => this.onFrame(event.data);
    // A silent path to the destination keeps the capture node pulled by the audio graph.
    const sink = new GainNode(this.context, { gain: 0 });
    source.connect(capture).connect(sink).connect(this.context.destination);
    this.nodes = [source, capture, sink];
  }

  stop() {
    for (const node of this.nodes) node.disconnect();
    this.nodes = [];
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
  }
}

/** Converts PCM16 at one rate to float samples at another, across chunk boundaries. */
class LinearResampler {
  constructor(fromRate, toRate) {
    this.step = fromRate / toRate;
    this.reset();
  }

  reset() {
    this.previous = 0;
    this.position = 1; // the first output lands on the first input sample
  }

  convert(pcm) {
    const out = [];
    for (let i = 0; i < pcm.length; i++) {
      const current = pcm[i] / 32768;
      while (this.position <= 1) {
        out.push(this.previous + (current - this.previous) * this.position);
        this.position += this.step;
      }
      this.position -= 1;
      this.previous = current;
    }
    return Float32Array.from(out);
  }
}

export class Player {
  constructor(context) {
    this.context = context;
    this.node = new AudioWorkletNode(context, "pcm16-playback", { outputChannelCount: [1] });
    this.node.connect(context.destination);
    this.resampler = new LinearResampler(context.sampleRate, context.sampleRate);
    this.sourceRate = context.sampleRate;
    this.state = {
      playing: false, queuedFrames: 0, playedFrames: 0,
      flushes: 0, droppedFrames: 0, playedAtFlush: null, receivedBytes: 0,
      flushMs: null, // last flush: request -> the worklet's confirmation, on the main thread
      outputLatencyMs: 1000 * ((context.baseLatency ?? 0) + (context.outputLatency ?? 0)),
    };
    this.flushRequestedAt = null;
    this.listeners = new Set();
    this.node.port.onmessage = (event) => this.#update(event.data);
  }

  /** The examiner's sample rate, from session_started.output_audio. */
  configure(sourceRate) {
    this.sourceRate = sourceRate;
    this.resampler = new LinearResampler(sourceRate, this.context.sampleRate);
  }

  enqueue(buffer) {
    this.state.receivedBytes += buffer.byteLength;
    const samples = this.resampler.convert(new Int16Array(buffer, 0, buffer.byteLength >> 1));
    if (samples.length > 0) {
      this.node.port.postMessage({ type: "audio", samples }, [samples.buffer]);
    }
  }

  /** Drop everything queued. The worklet clears its queue on its next message, before the next
   *  render quantum (~3 ms), and confirms with `flushed`. */
  flush() {
    this.resampler.reset();
    this.flushRequestedAt = performance.now();
    this.node.port.postMessage({ type: "flush" });
  }

  onChange(listener) {
    this.listeners.add(listener);
  }

  close() {
    this.node.disconnect();
  }

  #update(message) {
    if (message.type === "flushed") {
      this.state.flushes += 1;
      this.state.droppedFrames += message.droppedFrames;
      this.state.playedAtFlush = message.playedFrames;
      if (this.flushRequestedAt !== null) {
        this.state.flushMs = performance.now() - this.flushRequestedAt;
        this.flushRequestedAt = null;
      }
    } else if (message.type === "state") {
      Object.assign(this.state, {
        playing: message.playing,
        queuedFrames: message.queuedFrames,
        playedFrames: message.playedFrames,
      });
    }
    for (const listener of this.listeners) listener(this.state);
  }
}
