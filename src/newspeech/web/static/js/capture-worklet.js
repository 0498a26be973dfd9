// AudioWorklet: microphone samples at the context's rate -> 16 kHz PCM16 frames of 20 ms.
// Resampling: a windowed-sinc low-pass below the new Nyquist (so speech above 8 kHz does not alias
// into the band the recogniser hears), then linear interpolation at the fractional positions.
// Each frame is transferred to the main thread with its RMS and peak for the level meter.

const TAPS = 31;

function lowPass(cutoff) {
  // cutoff as a fraction of the input rate; Hamming window; unity gain at DC.
  const h = new Float32Array(TAPS);
  const middle = (TAPS - 1) / 2;
  let sum = 0;
  for (let k = 0; k < TAPS; k++) {
    const x = k - middle;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const window = 0.54 - 0.46 * Math.cos((2 * Math.PI * k) / (TAPS - 1));
    h[k] = sinc * window;
    sum += h[k];
  }
  for (let k = 0; k < TAPS; k++) h[k] /= sum;
  return h;
}

class Pcm16Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate = 16000, frameSamples = 320 } = options.processorOptions ?? {};
    this.step = sampleRate / targetRate; // input samples per output sample
    this.filter = this.step > 1 ? lowPass((0.45 * targetRate) / sampleRate) : null;
    this.history = new Float32Array(TAPS); // ring of the last TAPS input samples
    this.historyAt = 0;
    this.previous = 0; // last filtered sample of the previous block (for interpolation)
    this.position = 0; // next output's position, in filtered samples after `previous`
    this.frameSamples = frameSamples;
    this.frame = new Int16Array(frameSamples);
    this.filled = 0;
    this.sumSquares = 0;
    this.peak = 0;
  }

  filtered(sample) {
    if (this.filter === null) return sample;
    this.history[this.historyAt] = sample;
    this.historyAt = (this.historyAt + 1) % TAPS;
    let acc = 0;
    for (let k = 0; k < TAPS; k++) acc += this.filter[k] * this.history[(this.historyAt + k) % TAPS];
    return acc;
  }

  emit(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.frame[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    this.sumSquares += clamped * clamped;
    this.peak = Math.max(this.peak, Math.abs(clamped));
    if (this.filled === this.frameSamples) {
      const rms = Math.sqrt(this.sumSquares / this.frameSamples);
      this.port.postMessage({ frame: this.frame, rms, peak: this.peak }, [this.frame.buffer]);
      this.frame = new Int16Array(this.frameSamples);
      this.filled = 0;
      this.sumSquares = 0;
      this.peak = 0;
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const input = channels[0];
    // Position is measured from `previous` (index 0); block samples are indices 1..n.
    for (let i = 0; i < input.length; i++) {
      const current = this.filtered(input[i]);
      while (this.position <= 1) {
        this.emit(this.previous + (current - this.previous) * this.position);
        this.position += this.step;
      }
      this.position -= 1;
      this.previous = current;
    }
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
