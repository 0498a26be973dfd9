// Import and export of a question bank: GIFT, Moodle XML or CSV. A dry run previews what an
// import would do and lists each bad item with its line number; nothing is stored until the
// examiner imports for real.

import { collegeOptions, download, field, h, table } from "./dom.js";

const FORMATS = [["gift", "GIFT"], ["moodle_xml", "Moodle XML"], ["csv", "CSV"]];
const EXTENSIONS = { ".gift": "gift", ".txt": "gift", ".xml": "moodle_xml", ".csv": "csv" };

function formatSelect(id) {
  return h("select", { id }, FORMATS.map(([value, name]) => new Option(name, value)));
}

export async function renderImport(ctx, container) {
  const colleges = await ctx.ui.busy("Loading…", ctx.colleges());
  const own = ctx.api.user.college_type ?? colleges[0]?.code;
  const file = h("input", { id: "import-file", type: "file", accept: ".gift,.txt,.xml,.csv", required: true });
  const format = formatSelect("import-format");
  const college = h("select", { id: "import-college" }, collegeOptions(colleges, own));
  const preview = h("button", { type: "submit", class: "primary", value: "preview" }, "Preview (dry run)");
  const commit = h("button", { type: "button", disabled: true }, "Import");
  const report = h("div", { id: "import-report", "aria-live": "polite" });
  file.addEventListener("change", () => {
    const name = file.files[0]?.name.toLowerCase() ?? "";
    const ext = Object.keys(EXTENSIONS).find((e) => name.endsWith(e));
    if (ext) format.value = EXTENSIONS[ext];
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
    body.append("format", format.value);
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
      if (error.status === 422 && error.body && typeof error.body === "object" && Array.isArray(error.body.errors)) {
        report.replaceChildren(...importReport(error.body, dryRun));
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
  const exportForm = h("form", { id: "export-form" }, field("College", exportCollege), field("Format", exportFormat),
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

/** The server's import report: a summary, the items it read, and each error with its line. */
function importReport(result, dryRun) {
  const errors = result.errors ?? [];
  const items = result.items ?? result.questions ?? [];
  const stored = result.created ?? result.imported ?? null;
  const summary = errors.length
    ? `The file has ${errors.length} error${errors.length === 1 ? "" : "s"}; nothing was imported. Fix the lines below and preview again.`
    : dryRun
      ? `Preview: ${items.length} question${items.length === 1 ? "" : "s"} would be imported. Nothing is stored until you press Import.`
      : `Imported ${stored ?? items.length} question${(stored ?? items.length) === 1 ? "" : "s"}.`;
  return [
    h("p", { id: "import-summary", class: errors.length ? "error" : "ok" }, summary),
    errors.length ? table("Errors", ["Line", "Item", "Problem"], errors.map((e) => [
      e.line === null || e.line === undefined ? "–" : String(e.line), e.item ?? e.name ?? "–", e.message ?? e.detail ?? "",
    ]), { id: "import-errors" }) : null,
    items.length ? table("Questions in the file", ["College", "Case", "No.", "Question", "Keywords"], items.map((q) => [
      q.college_type ?? "", String(q.scenario_id ?? q.scenario_name ?? ""), String(q.question_number ?? ""),
      q.question_text ?? q.name ?? "", String(q.keywords?.length ?? 0),
    ]), { id: "import-items" }) : null,
  ].filter(Boolean);
}
