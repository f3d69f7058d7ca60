/**
 * Markdown (CommonMark, via `mdast-util-from-markdown`): headings become
 * sections by depth; paragraphs, list items and code blocks become
 * paragraphs (block quotes are read through). Soft line breaks read as
 * spaces, hard breaks as newlines; raw HTML and link definitions are left
 * out. The title is the first level 1 heading, else the first heading, else
 * the file name.
 */
import { fromMarkdown } from "mdast-util-from-markdown"
import type { Nodes, RootContent } from "mdast"
import type { Block } from "./sections.ts"
import { buildBody, heading, paragraph } from "./sections.ts"
import type { ParsedBody } from "./parsedBody.ts"
import { titleFromSource } from "./parsedBody.ts"

/** The visible text of inline content. */
const inlineText = (node: Nodes): string => {
  switch (node.type) {
    case "text":
      return node.value.replace(/[ \t]*\n[ \t]*/g, " ")
    case "inlineCode":
      return node.value
    case "break":
      return "\n"
    case "image":
      return node.alt ?? ""
    case "html":
      return ""
    default:
      return "children" in node ? node.children.map((child) => inlineText(child)).join("") : ""
  }
}

/** The blocks of one block-level node. */
const blocksOf = (node: RootContent): ReadonlyArray<Block> => {
  switch (node.type) {
    case "heading":
      return [heading(node.depth, inlineText(node))]
    case "paragraph":
      return [paragraph(inlineText(node))]
    case "code":
      return [paragraph(node.value)]
    case "blockquote":
      return node.children.flatMap(blocksOf)
    case "list":
      // An item's own text is one paragraph; its nested lists follow as their own.
      return node.children.flatMap((item) => {
        const own = item.children.filter((child) => child.type !== "list")
        const nested = item.children.filter((child) => child.type === "list")
        const text = own
          .flatMap(blocksOf)
          .map((block) => block.text.trim())
          .filter((line) => line !== "")
          .join("\n")
        return [paragraph(text), ...nested.flatMap(blocksOf)]
      })
    default:
      return []
  }
}

/** Parses Markdown read from `source`. */
export const parseMarkdown = (content: string, source: string): ParsedBody => {
  const tree = fromMarkdown(content.replace(/\r\n?/g, "\n"))
  const blocks = tree.children.flatMap(blocksOf)
  const headings = blocks.filter((block) => block._tag === "Heading")
  const titleHeading = headings.find((block) => block.level === 1) ?? headings[0]
  const title = titleHeading?.text.trim() || titleFromSource(source)
  const body = buildBody(blocks, { title })
  return {
    title,
    text: body.text,
    sections: body.sections,
    metadata: { headings: headings.length }
  }
}
