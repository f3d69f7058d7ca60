/**
 * Builds a document's text and section tree from the flat run of blocks a
 * format parser reads: headings (with a level) and paragraphs, in reading
 * order. Blocks are joined by a blank line into the full text, so every
 * offset is exact by construction. A heading closes every open section of
 * its level or deeper and opens a new one inside what is left; paragraphs
 * before the first heading go to a top-level section of level 1 titled like
 * the document, which ends where the first heading starts.
 * A section spans from its heading to the end of its last paragraph or
 * subsection.
 */
import { Paragraph } from "@switchyard/schemas/DocumentIR"
import type { Section } from "@switchyard/schemas/DocumentIR"

/** One block of a document in reading order. */
export type Block =
  { readonly _tag: "Heading"; readonly level: number; readonly text: string } | { readonly _tag: "Paragraph"; readonly text: string }

/** A heading block of `level` (1 for the top). */
export const heading = (level: number, text: string): Block => ({ _tag: "Heading", level, text })

/** A paragraph block. */
export const paragraph = (text: string): Block => ({ _tag: "Paragraph", text })

/** The full text and its sections. */
export interface Body {
  readonly text: string
  readonly sections: ReadonlyArray<Section>
  /** Start offset of each kept block, in order: how parsers map their own positions (pages) onto the text. */
  readonly blockStarts: ReadonlyArray<number>
}

/** The blank line between blocks in the full text. */
export const blockSeparator = "\n\n"

interface OpenSection {
  readonly title: string
  readonly level: number
  readonly start: number
  end: number
  readonly paragraphs: Array<Paragraph>
  readonly sections: Array<OpenSection>
}

const close = (open: OpenSection): Section => ({
  title: open.title,
  level: open.level,
  start: open.start,
  end: open.end,
  paragraphs: open.paragraphs,
  sections: open.sections.map(close)
})

/**
 * Lays `blocks` out as text and nests them into sections. Blocks whose text
 * is blank after trimming are dropped (their position in `blockStarts` is -1).
 */
export const buildBody = (blocks: ReadonlyArray<Block>, options: { readonly title: string }): Body => {
  const top: Array<OpenSection> = []
  const stack: Array<OpenSection> = []
  const blockStarts: Array<number> = []
  let text = ""
  let preamble: OpenSection | undefined = undefined

  for (const block of blocks) {
    const content = block.text.trim()
    if (content === "") {
      blockStarts.push(-1)
      continue
    }
    if (text !== "") text += blockSeparator
    const start = text.length
    text += content
    const end = text.length
    blockStarts.push(start)

    if (block._tag === "Heading") {
      // The section for text before the first heading holds only that text; headings start beside it.
      if (stack.length === 1 && stack[0] === preamble) stack.pop()
      while (stack.length > 0 && stack[stack.length - 1]!.level >= block.level) stack.pop()
      const section: OpenSection = { title: content, level: block.level, start, end, paragraphs: [], sections: [] }
      const parent = stack[stack.length - 1]
      if (parent === undefined) top.push(section)
      else parent.sections.push(section)
      stack.push(section)
    } else {
      if (stack.length === 0) {
        preamble = { title: options.title, level: 1, start, end, paragraphs: [], sections: [] }
        top.push(preamble)
        stack.push(preamble)
      }
      stack[stack.length - 1]!.paragraphs.push(new Paragraph({ text: content, start, end }))
    }
    // Every open section now reaches to the end of this block.
    for (const open of stack) open.end = end
  }

  return { text, sections: top.map(close), blockStarts }
}
