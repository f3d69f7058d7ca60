/**
 * HTML (via `hast-util-from-html`, the WHATWG parser): `h1`–`h6` become
 * sections by level; paragraphs, list items, preformatted blocks, quotes,
 * table rows and the text runs between block elements become paragraphs.
 * Whitespace collapses as a browser would render it, except inside `pre`;
 * `br` is a newline; table cells of a row are joined by ` | `. Scripts,
 * styles, templates and form controls are left out. The title is the
 * `<title>`, else the first `h1`, else the file name; `lang` and the author
 * `<meta>` go into the metadata.
 */
import { fromHtml } from "hast-util-from-html"
import type { Element, Nodes } from "hast"
import type { Schema } from "effect"
import type { Block } from "./sections.ts"
import { buildBody, heading, paragraph } from "./sections.ts"
import type { ParsedBody } from "./parsedBody.ts"
import { titleFromSource } from "./parsedBody.ts"

const skipped = new Set([
  "head",
  "script",
  "style",
  "noscript",
  "template",
  "svg",
  "math",
  "iframe",
  "object",
  "canvas",
  "select",
  "textarea",
  "button"
])

/** Elements that end the paragraph before them and start a new one. */
const blockElements = new Set([
  "address",
  "article",
  "aside",
  "blockquote",
  "body",
  "caption",
  "dd",
  "details",
  "dialog",
  "div",
  "dl",
  "dt",
  "fieldset",
  "figcaption",
  "figure",
  "footer",
  "form",
  "header",
  "hgroup",
  "hr",
  "html",
  "legend",
  "li",
  "main",
  "nav",
  "ol",
  "p",
  "section",
  "summary",
  "table",
  "tbody",
  "tfoot",
  "thead",
  "tr",
  "ul"
])

const headingLevel = (element: Element): number | undefined => {
  const match = /^h([1-6])$/.exec(element.tagName)
  return match === null ? undefined : Number(match[1])
}

/** All text under a node, as written. */
const rawText = (node: Nodes): string =>
  node.type === "text" ? node.value : "children" in node ? node.children.map((child) => rawText(child)).join("") : ""

/** Trims each line (lines come from `br`; source whitespace is already one space) and drops blank ones. */
const trimLines = (text: string): string =>
  text
    .split("\n")
    .map((line) => line.replace(/\s+/g, " ").trim())
    .filter((line) => line !== "")
    .join("\n")

const findElement = (node: Nodes, test: (element: Element) => boolean): Element | undefined => {
  if (node.type === "element" && test(node)) return node
  if (!("children" in node)) return undefined
  for (const child of node.children) {
    const found = findElement(child, test)
    if (found !== undefined) return found
  }
  return undefined
}

/** Walks the tree in reading order, cutting blocks at block-level elements. */
const collectBlocks = (root: Nodes): ReadonlyArray<Block> => {
  const blocks: Array<Block> = []
  let run = ""
  const flush = () => {
    const text = trimLines(run)
    run = ""
    if (text !== "") blocks.push(paragraph(text))
  }
  const visit = (node: Nodes): void => {
    if (node.type === "text") {
      run += node.value.replace(/\s+/g, " ")
      return
    }
    if (node.type === "root") {
      node.children.forEach(visit)
      return
    }
    if (node.type !== "element" || skipped.has(node.tagName)) return
    const level = headingLevel(node)
    if (level !== undefined) {
      flush()
      blocks.push(heading(level, headingText(node)))
      return
    }
    switch (node.tagName) {
      case "br":
        run += "\n"
        return
      case "pre":
        flush()
        blocks.push(paragraph(rawText(node).replace(/\r\n?/g, "\n")))
        return
      case "td":
      case "th":
        // A row flushes before its first cell, so text in the run means an earlier cell.
        if (run.trim() !== "") run += " | "
        node.children.forEach(visit)
        return
    }
    const block = blockElements.has(node.tagName)
    if (block) flush()
    node.children.forEach(visit)
    if (block) flush()
  }
  visit(root)
  flush()
  return blocks
}

/** The text under an element, leaving out what the reader never sees. */
const inlineText = (node: Nodes): string =>
  node.type === "text"
    ? node.value.replace(/\s+/g, " ")
    : node.type === "element" && node.tagName === "br"
      ? "\n"
      : "children" in node && !(node.type === "element" && skipped.has(node.tagName))
        ? node.children.map((child) => inlineText(child)).join("")
        : ""

/** A heading's text on one line. */
const headingText = (element: Element): string => trimLines(inlineText(element)).replace(/\n/g, " ")

/** Parses HTML read from `source`. */
export const parseHtml = (content: string, source: string): ParsedBody => {
  const tree = fromHtml(content)
  const blocks = collectBlocks(tree)
  const titleElement = findElement(tree, (element) => element.tagName === "title")
  const firstH1 = findElement(tree, (element) => element.tagName === "h1")
  const title =
    (titleElement && rawText(titleElement).replace(/\s+/g, " ").trim()) || (firstH1 && headingText(firstH1)) || titleFromSource(source)
  const body = buildBody(blocks, { title })

  const metadata: Record<string, Schema.Json> = { headings: blocks.filter((block) => block._tag === "Heading").length }
  const html = findElement(tree, (element) => element.tagName === "html")
  const lang = html?.properties["lang"]
  if (typeof lang === "string" && lang !== "") metadata["language"] = lang
  const author = findElement(tree, (element) => element.tagName === "meta" && element.properties["name"] === "author")?.properties[
    "content"
  ]
  if (typeof author === "string" && author !== "") metadata["author"] = author
  return { title, text: body.text, sections: body.sections, metadata }
}
