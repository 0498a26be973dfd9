// An answer's recording. <audio src> cannot send the bearer header, so the file is fetched with
// it and played from a blob URL; the URLs are revoked when the page is left.

import { h } from "./dom.js";

export class AudioShelf {
  constructor(api, ui) {
    this.api = api;
    this.ui = ui;
    this.urls = [];
  }

  /** A "Play recording" button and its (hidden until loaded) player for ``audioUrl``. */
  player(audioUrl, name) {
    if (!audioUrl) return h("p", { class: "hint no-print" }, "No recording stored for this answer.");
    const audio = h("audio", { controls: true, preload: "auto", hidden: true, "aria-label": `Recording: ${name}`,
      dataset: { state: "idle" } });
    const button = h("button", { type: "button", class: "play" }, "Play recording");
    const note = h("span", { class: "hint", "aria-live": "polite" });
    for (const state of ["playing", "pause", "ended"]) {
      audio.addEventListener(state, () => { audio.dataset.state = state === "pause" ? "paused" : state; });
    }
    audio.addEventListener("error", () => {
      audio.dataset.state = "error";
      note.textContent = "The recording could not be played (the file may be damaged or in a format this browser cannot play).";
    });
    button.addEventListener("click", async () => {
      if (audio.src) {
        await audio.play().catch(() => {});
        return;
      }
      button.disabled = true;
      audio.dataset.state = "loading";
      note.textContent = "Loading the recording…";
      try {
        const blob = await this.api.blob(audioUrl, "Loading the recording");
        const url = URL.createObjectURL(blob);
        this.urls.push(url);
        audio.src = url;
        audio.hidden = false;
        button.hidden = true;
        note.textContent = "";
        await audio.play();
        audio.focus();
      } catch (error) {
        if (error.name === "NotAllowedError") {
          audio.dataset.state = "ready";
          note.textContent = "Press play on the player to listen.";
        } else {
          audio.dataset.state = "error";
          note.textContent = error.message;
          button.disabled = false;
        }
      }
    });
    return h("div", { class: "recording" }, button, audio, note);
  }

  close() {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
  }
}
