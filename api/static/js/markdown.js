// A small Markdown renderer for run descriptions that builds DOM nodes and never parses
// HTML: raw HTML in the text shows as text, and links keep only http(s), mailto and
// in-page targets. Headings, paragraphs, emphasis, strong, code spans and blocks, lists,
// block quotes, horizontal rules and links: what MLflow users write in a note.

import { h } from "./dom.js";

const SAFE_URL = /^(https?:|mailto:|#|\/(?!\/))/i;

// Inline markup, left to right: code spans first (nothing inside them is markup).
const INLINE = [
  [/`([^`]+)`/, (m) => h("code", {}, m[1])],
  [/\[([^\]]+)\]\(([^)\s]+)\)/, (m) => (SAFE_URL.test(m[2])
    ? h("a", { href: m[2], rel: "noopener noreferrer", target: m[2].startsWith("#") ? undefined : "_blank" }, inline(m[1]))
    : document.createTextNode(m[0]))],
  [/(\*\*|__)(?=\S)([\s\S]*?\S)\1/, (m) => h("strong", {}, inline(m[2]))],
  [/(\*|_)(?=\S)([\s\S]*?\S)\1/, (m) => h("em", {}, inline(m[2]))],
  [/\bhttps?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/, (m) => h("a", { href: m[0], rel: "noopener noreferrer", target: "_blank" }, m[0])],
];

function inline(text) {
  const out = [];
  let rest = text;
  while (rest) {
    let best = null;
    for (const [pattern, make] of INLINE) {
      const m = pattern.exec(rest);
      if (m && (!best || m.index < best.m.index)) best = { m, make };
    }
    if (!best) {
      out.push(rest);
      break;
    }
    if (best.m.index) out.push(rest.slice(0, best.m.index));
    out.push(best.make(best.m));
    rest = rest.slice(best.m.index + best.m[0].length);
  }
  return out;
}

const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;

function list(lines, i, pattern, tag) {
  const items = [];
  while (i < lines.length && pattern.test(lines[i])) {
    let text = pattern.exec(lines[i])[1];
    i++;
    // Continuation lines: indented, not a new item.
    while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !pattern.test(lines[i])) text += ` ${lines[i++].trim()}`;
    items.push(h("li", {}, inline(text)));
  }
  return [h(tag, {}, items), i];
}

function blocks(lines) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      const code = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) code.push(lines[i++]);
      i++;
      out.push(h("pre", {}, h("code", {}, code.join("\n"))));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      out.push(h(`h${Math.min(6, heading[1].length + 2)}`, { class: "md-heading" }, inline(heading[2])));
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      out.push(h("hr"));
      i++;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ""));
      out.push(h("blockquote", {}, blocks(quoted)));
      continue;
    }
    if (BULLET.test(line) || NUMBERED.test(line)) {
      const [el, next] = BULLET.test(line) ? list(lines, i, BULLET, "ul") : list(lines, i, NUMBERED, "ol");
      out.push(el);
      i = next;
      continue;
    }
    if (/^( {4}|\t)/.test(line)) {
      const code = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || !lines[i].trim())) code.push(lines[i++].replace(/^( {4}|\t)/, ""));
      out.push(h("pre", {}, h("code", {}, code.join("\n").replace(/\n+$/, ""))));
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^\s*(```|~~~|#{1,6}\s|>)/.test(lines[i]) && !BULLET.test(lines[i]) && !NUMBERED.test(lines[i])) {
      para.push(lines[i++]);
    }
    // A line ending in two spaces or a backslash breaks the line, as in CommonMark.
    const parts = [];
    para.forEach((p, k) => {
      if (k) parts.push(/( {2}|\\)$/.test(para[k - 1]) ? h("br") : " ");
      parts.push(inline(p.trim().replace(/\\$/, "")));
    });
    out.push(h("p", {}, parts));
  }
  return out;
}

// Markdown text -> a <div class="markdown"> of plain DOM nodes.
export function renderMarkdown(text) {
  return h("div", { class: "markdown" }, blocks(String(text || "").replace(/\r\n?/g, "\n").split("\n")));
}
