// The examiner workspace: sign-in, the page shell (status, errors, loading bar) and a hash
// router over the pages. Each page module renders into a fresh container and may return a
// cleanup (blob URLs, charts) that runs when the examiner moves on.

import { Api } from "./api.js";
import { renderAsk } from "./ask.js";
import { $, h } from "./dom.js";
import { renderImport } from "./importer.js";
import { renderQuestion, renderQuestions } from "./questions.js";
import { renderReviewAnswers, renderReviewQueue } from "./review.js";
import { renderSession, renderSessions } from "./sessions.js";
import { renderStatistics } from "./statistics.js";

const EXAMINER_ROLES = new Set(["examiner", "admin"]);

const ROUTES = [
  [/^#\/review$/, renderReviewQueue, "review"],
  [/^#\/review\/(\d+)$/, renderReviewAnswers, "review"],
  [/^#\/sessions$/, renderSessions, "sessions"],
  [/^#\/sessions\/(\d+)$/, renderSession, "sessions"],
  [/^#\/questions$/, renderQuestions, "questions"],
  [/^#\/questions\/(\d+)$/, renderQuestion, "questions"],
  [/^#\/import$/, renderImport, "import"],
  [/^#\/statistics$/, renderStatistics, "statistics"],
  [/^#\/ask$/, renderAsk, "ask"],
];

const api = new Api();
let busyCount = 0;
let cleanup = null;
let shown = 0; // counts the pages (and sign-in forms) shown: a page's late answers check it
let colleges = null;

const ui = {
  status(text) { $("status").textContent = text; },
  error(text) {
    $("error").textContent = text;
    $("error").hidden = !text;
    if (text) $("error").scrollIntoView({ block: "nearest" });
  },
  clearError() { ui.error(""); },
  /** Show the loading bar and ``text`` while ``promise`` runs; errors go to the alert box. */
  async busy(text, promise) {
    busyCount += 1;
    $("busy").hidden = false;
    $("view").setAttribute("aria-busy", "true");
    ui.status(text);
    try {
      return await promise;
    } finally {
      busyCount -= 1;
      if (busyCount === 0) {
        $("busy").hidden = true;
        $("view").removeAttribute("aria-busy");
      }
    }
  },
};

/** The shell as one page sees it: what the page reports after the examiner has moved on (to
 * another page, or signed out while it was still loading) is dropped, not shown over what the
 * examiner now looks at. */
function pageUi(page) {
  const current = () => page === shown;
  return {
    status(text) { if (current()) ui.status(text); },
    error(text) { if (current()) ui.error(text); },
    clearError() { if (current()) ui.clearError(); },
    busy(text, promise) { return current() ? ui.busy(text, promise) : promise; },
  };
}

/** Everything a page needs: the API, the shell, the college list, navigation. */
const context = {
  api,
  ui,
  async colleges() {
    colleges ??= await api.request("/api/v1/college-types", { what: "Loading the colleges" });
    return colleges;
  },
  navigate(hash) {
    if (window.location.hash === hash) route();
    else window.location.hash = hash;
  },
};

function showSignIn(message) {
  shown += 1;
  $("nav").hidden = true;
  $("view").replaceChildren();
  $("sign-in").hidden = false;
  ui.status(message ?? "Sign in with your examiner account.");
  $("username").focus();
}

function signedIn(user) {
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("who").textContent = `Signed in as ${user.full_name || user.username} (${user.role})`;
  if (!window.location.hash || window.location.hash === "#") window.location.hash = "#/review";
  else route();
}

async function signIn(event) {
  event.preventDefault();
  ui.clearError();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    ui.error("Enter your user name and password.");
    $(username ? "password" : "username").focus();
    return;
  }
  $("sign-in-button").disabled = true;
  try {
    const user = await ui.busy("Signing in…", api.login(username, password));
    $("password").value = "";
    if (!EXAMINER_ROLES.has(user.role)) {
      await api.logout();
      ui.error("This area is for examiners. Your account is a student account: take your exam on the exam page (/).");
      showSignIn("Signed out.");
      return;
    }
    signedIn(user);
  } catch (error) {
    ui.error(error.status === 401 ? "Sign-in failed: check your user name and password." : error.message);
    ui.status("");
  } finally {
    $("sign-in-button").disabled = false;
  }
}

async function route() {
  if (!api.user) return;
  const hash = window.location.hash;
  const match = ROUTES.map(([pattern, render, section]) => [pattern.exec(hash), render, section])
    .find(([found]) => found);
  if (!match) {
    window.location.hash = "#/review";
    return;
  }
  const [found, render, section] = match;
  cleanup?.();
  cleanup = null;
  ui.clearError();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const container = h("div", { class: "page" });
  $("view").replaceChildren(container);
  const page = ++shown;
  try {
    const done = (await render({ ...context, ui: pageUi(page) }, container, ...found.slice(1))) ?? null;
    if (page === shown) cleanup = done;
    else done?.();
  } catch (error) {
    if (page === shown) {
      ui.error(error.message);
      ui.status("");
    }
  }
  if (page !== shown) return;
  const heading = container.querySelector("h2");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

async function signOut() {
  cleanup?.();
  cleanup = null;
  await api.logout();
  ui.clearError();
  showSignIn("You are signed out.");
}

api.onSignedOut = () => {
  api.accessToken = null;
  api.user = null;
  showSignIn("Your sign-in has expired. Sign in again to continue.");
};

$("sign-in-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", route);

/** Read-only state for diagnostics and the browser tests. */
window.newspeechExaminer = { user: () => api.user, ready: false };

(async () => {
  const user = await api.resume();
  if (user && EXAMINER_ROLES.has(user.role)) signedIn(user);
  else showSignIn();
  window.newspeechExaminer.ready = true;
})();
