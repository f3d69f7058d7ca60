/**
 * Plain text: paragraphs are runs of lines separated by blank lines (line
 * endings normalized, trailing spaces dropped, the lines of a paragraph kept).
 * There are no headings, so every paragraph sits in the one section titled
 * like the document: its first line when that is short, else the file name.
 */
import { buildBody, paragraph } from "./sections.ts"
import type { ParsedBody } from "./parsedBody.ts"
import { titleFromSource } from "./parsedBody.ts"

/** The longest first line taken as a plain text title. */
const maxTitleLength = 120

/** Parses plain text read from `source`. */
export const parseText = (content: string, source: string): ParsedBody => {
  const paragraphs = content
    .replace(/\r\n?/g, "\n")
    .split(/\n[ \t]*\n/)
    .map((block) =>
      block
        .split("\n")
        .map((line) => line.trimEnd())
        .join("\n")
        .trim()
    )
    .filter((block) => block !== "")
  const firstLine = paragraphs[0]?.split("\n")[0] ?? ""
  const title = firstLine !== "" && firstLine.length <= maxTitleLength ? firstLine : titleFromSource(source)
  const body = buildBody(paragraphs.map(paragraph), { title })
  return { title, text: body.text, sections: body.sections, metadata: { paragraphs: paragraphs.length } }
}
