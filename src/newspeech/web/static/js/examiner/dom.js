// Small DOM helpers for the examiner pages. Text from the server always goes in through
// textContent, never as HTML.

export const $ = (id) => document.getElementById(id);

/** ``h("p", {class: "x"}, "text", child)``: attributes (on* = listeners), then children. */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function number(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
  const n = Number(value);
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

export function score(value, max) {
  return max === undefined || max === null ? number(value) : `${number(value)} / ${number(max)}`;
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${Number(value).toFixed(0)}%`;
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function label(text) {
  return String(text ?? "").replaceAll("_", " ");
}

/** A field: label + control, wired by id. */
export function field(labelText, control, hint) {
  const hintNode = hint ? h("p", { class: "hint", id: `${control.id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, labelText), control, hintNode);
}

/** A table with a caption; ``rows`` are arrays of cells (nodes or text). */
export function table(caption, headers, rows, attributes = {}) {
  return h("div", { class: "table-wrap" },
    h("table", attributes,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows.map((cells) => h("tr", {},
        cells.map((cell, i) => h("td", { "data-label": headers[i] }, cell)))))));
}

/** Options for a college ``<select>``, from ``GET /api/v1/college-types``. */
export function collegeOptions(colleges, selected) {
  return colleges.map((college) => {
    const option = new Option(college.name, college.code);
    option.selected = college.code === selected;
    return option;
  });
}

/** Save ``blob`` under ``filename`` through a temporary link (the browser's download). */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
