// Import and export of a question bank: GIFT, Moodle XML or CSV. A dry run previews what an
// import would do and lists each bad item with its line number; nothing is stored until the
// examiner imports for real.

import { collegeOptions, download, field, h, table } from "./dom.js";

const FORMATS = [["gift", "GIFT"], ["moodle_xml", "Moodle XML"], ["csv", "CSV"]];
const EXTENSIONS = { ".gift": "gift", ".txt": "gift", ".xml": "moodle_xml", ".csv": "csv" };

function formatSelect(id, detect = false) {
  return h("select", { id }, detect ? new Option("Detect from the file", "") : null,
    FORMATS.map(([value, name]) => new Option(name, value)));
}

export async function renderImport(ctx, container) {
  const colleges = await ctx.ui.busy("Loading…", ctx.colleges());
  const own = ctx.api.user.college_type ?? colleges[0]?.code;
  const file = h("input", { id: "import-file", type: "file", accept: ".gift,.txt,.xml,.csv", required: true });
  const format = formatSelect("import-format", true);
  const college = h("select", { id: "import-college" }, collegeOptions(colleges, own));
  const preview = h("button", { type: "submit", class: "primary", value: "preview" }, "Preview (dry run)");
  const commit = h("button", { type: "button", disabled: true }, "Import");
  const report = h("div", { id: "import-report", "aria-live": "polite" });
  file.addEventListener("change", () => {
    const name = file.files[0]?.name.toLowerCase() ?? "";
    const ext = Object.keys(EXTENSIONS).find((e) => name.endsWith(e));
    format.value = ext ? EXTENSIONS[ext] : "";
    commit.disabled = true;
    report.replaceChildren();
  });
  const form = h("form", { id: "import-form", novalidate: true },
    field("Question file", file, "GIFT (.gift, .txt), Moodle XML (.xml) or CSV (.csv)."),
    field("Format", format), field("College (for questions without a category)", college),
    h("p", {}, preview, " ", commit));

  async function send(dryRun) {
    ctx.ui.clearError();
    if (!file.files[0]) {
      report.replaceChildren(h("p", { class: "error" }, "Choose a file to import first."));
      file.focus();
      return;
    }
    const body = new FormData();
    body.append("file", file.files[0]);
    if (format.value) body.append("format", format.value);
    body.append("college_type", college.value);
    body.append("dry_run", String(dryRun));
    preview.disabled = true;
    commit.disabled = true;
    try {
      const result = await ctx.ui.busy(dryRun ? "Checking the file…" : "Importing…",
        ctx.api.request("/api/v1/question-banks/import", { method: "POST", form: body,
          what: dryRun ? "The import preview" : "The import" }));
      report.replaceChildren(...importReport(result, dryRun));
      commit.disabled = !dryRun;
      ctx.ui.status(dryRun ? "Preview ready: nothing was stored yet." : "Import done.");
    } catch (error) {
      // A file with bad items answers 422 with the whole report (every error and its line).
      const body = error.body?.detail;
      if (error.status === 422 && body && Array.isArray(body.issues)) {
        report.replaceChildren(...importReport(body, dryRun));
        ctx.ui.status("The file has errors: nothing was imported.");
      } else {
        report.replaceChildren(h("p", { class: "error" }, error.message));
        ctx.ui.status("");
      }
    } finally {
      preview.disabled = false;
    }
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); send(true); });
  commit.addEventListener("click", () => send(false));

  const exportFormat = formatSelect("export-format");
  const exportCollege = h("select", { id: "export-college" }, collegeOptions(colleges, own));
  const exportMessage = h("p", { class: "hint", role: "status" });
  const exportForm = h("form", { id: "export-form" }, field("College to export", exportCollege), field("Export format", exportFormat),
    h("button", { type: "submit" }, "Download export"), exportMessage);
  exportForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    exportMessage.textContent = "Preparing the file…";
    try {
      const blob = await ctx.api.blob(
        `/api/v1/question-banks/${encodeURIComponent(exportCollege.value)}/export?format=${exportFormat.value}`,
        "The export");
      const ext = { gift: "gift.txt", moodle_xml: "xml", csv: "csv" }[exportFormat.value];
      download(blob, `${exportCollege.value}-questions.${ext}`);
      exportMessage.textContent = "Downloaded.";
    } catch (error) {
      exportMessage.textContent = error.message;
    }
  });

  container.append(
    h("section", { class: "card", "aria-labelledby": "import-title" },
      h("h2", { id: "import-title" }, "Import questions"),
      h("p", { class: "hint" }, "Moodle categories map to college and case; answer texts and grader information become keywords, synonyms and model answers."),
      form, report),
    h("section", { class: "card", "aria-labelledby": "export-title" },
      h("h2", { id: "export-title" }, "Export a question bank"), exportForm));
  ctx.ui.status("Choose a file to preview.");
}

/** The server's import report: counts, then every issue (error, skipped item, warning) with its
 * line in the file. */
function importReport(result, dryRun) {
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const counts = `${result.new} new, ${result.updated} updated, ${result.unchanged} unchanged, ${result.skipped} skipped`;
  const summary = result.errors
    ? `The file has ${plural(result.errors, "error")}; nothing was imported. Fix the lines listed below and preview again.`
    : dryRun
      ? `Preview: ${counts}. Nothing is stored until you press Import.`
      : `Imported: ${counts}.`;
  return [
    h("p", { id: "import-summary", class: result.errors ? "error" : "ok" }, summary,
      result.warnings ? ` ${plural(result.warnings, "warning")} below.` : ""),
    result.issues.length ? table("Problems in the file", ["Line", "Kind", "Problem"], result.issues.map((i) => [
      String(i.line), i.kind, i.message,
    ]), { id: "import-issues" }) : null,
  ].filter(Boolean);
}
