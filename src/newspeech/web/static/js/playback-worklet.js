// AudioWorklet: a playback queue of examiner audio that the page can clear at once.
// Messages in:  {type: "audio", samples: Float32Array (already at the context's rate)}
//               {type: "flush"} -> drop everything queued, answer {type: "flushed", droppedFrames}
// Messages out: {type: "state", playing, queuedFrames, playedFrames} when playback starts or
//               drains, and about every 100 ms while playing.

class Pcm16Playback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = [];
    this.offset = 0; // read position inside queue[0]
    this.queuedFrames = 0;
    this.playedFrames = 0;
    this.playing = false;
    this.sinceReport = 0;
    this.port.onmessage = (event) => this.receive(event.data);
  }

  receive(message) {
    if (message.type === "audio") {
      this.queue.push(message.samples);
      this.queuedFrames += message.samples.length;
    } else if (message.type === "flush") {
      const droppedFrames = this.queuedFrames;
      this.queue = [];
      this.offset = 0;
      this.queuedFrames = 0;
      this.playing = false;
      this.port.postMessage({ type: "flushed", droppedFrames, playedFrames: this.playedFrames });
      this.report();
    }
  }

  report() {
    this.sinceReport = 0;
    this.port.postMessage({
      type: "state",
      playing: this.playing,
      queuedFrames: this.queuedFrames,
      playedFrames: this.playedFrames,
    });
  }

  process(_inputs, outputs) {
    const output = outputs[0][0];
    let written = 0;
    while (written < output.length && this.queue.length > 0) {
      const head = this.queue[0];
      const count = Math.min(output.length - written, head.length - this.offset);
      output.set(head.subarray(this.offset, this.offset + count), written);
      written += count;
      this.offset += count;
      if (this.offset === head.length) {
        this.queue.shift();
        this.offset = 0;
      }
    }
    output.fill(0, written);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(output);
    this.queuedFrames -= written;
    this.playedFrames += written;
    const playing = written > 0;
    this.sinceReport += output.length;
    if (playing !== this.playing || (playing && this.sinceReport >= sampleRate / 10)) {
      this.playing = playing;
      this.report();
    }
    return true;
  }
}

registerProcessor("pcm16-playback", Pcm16Playback);
