/**
 * PDF (via `pdfjs-dist`'s legacy build, the one meant for Node): the text of
 * each page is read as positioned runs and regrouped into lines by baseline.
 * Lines set in a larger size than the body text are headings (the largest
 * size is level 1); consecutive lines become one paragraph until the gap to
 * the next line is clearly wider than the usual line spacing for that size,
 * the size changes, or the page ends. Wrapped lines are joined with a space
 * (without one after a trailing hyphen). The title is the document info's
 * `Title`, else its XMP `dc:title`, else the first heading or line; the page
 * count, each page's span of the text and the author go into the metadata.
 */
import { Effect } from "effect"
import type { Schema } from "effect"
import { getDocument, VerbosityLevel } from "pdfjs-dist/legacy/build/pdf.mjs"
import type { PDFDocumentProxy } from "pdfjs-dist/legacy/build/pdf.mjs"
import type { Block } from "./sections.ts"
import { buildBody, heading, paragraph } from "./sections.ts"
import type { ParsedBody } from "./parsedBody.ts"
import { titleFromSource } from "./parsedBody.ts"

/** One line of text on a page: its baseline and the font size of its largest run. */
interface Line {
  readonly page: number
  readonly y: number
  readonly size: number
  readonly text: string
}

/** How much larger than the body text a line must be to count as a heading. */
const headingRatio = 1.15
/** How much wider than the usual line spacing a gap must be to start a new paragraph. */
const paragraphGapRatio = 1.35

const round = (value: number): number => Math.round(value * 2) / 2

/** Reads the lines of one page in content order. */
const readLines = (pdf: PDFDocumentProxy, page: number): Effect.Effect<ReadonlyArray<Line>, unknown> =>
  Effect.tryPromise({ try: () => pdf.getPage(page), catch: (error) => error }).pipe(
    Effect.flatMap((proxy) =>
      Effect.tryPromise({ try: () => proxy.getTextContent(), catch: (error) => error }).pipe(
        Effect.ensuring(Effect.sync(() => proxy.cleanup()))
      )
    ),
    Effect.map(({ items }) => {
      const lines: Array<Line> = []
      let text = ""
      let y = 0
      let size = 0
      let lastEnd: number | undefined = undefined
      const endLine = () => {
        if (text.trim() !== "") lines.push({ page, y, size: round(size), text: text.replace(/\s+/g, " ").trim() })
        text = ""
        size = 0
        lastEnd = undefined
      }
      for (const item of items) {
        if (!("str" in item)) continue
        const itemY = Number(item.transform[5])
        const itemX = Number(item.transform[4])
        if (item.str !== "") {
          if (text !== "" && Math.abs(itemY - y) > Math.max(size, item.height) / 2) endLine()
          if (text === "") y = itemY
          // Runs placed apart without a space between them are separate words.
          if (lastEnd !== undefined && itemX - lastEnd > item.height * 0.15 && !/\s$/.test(text) && !/^\s/.test(item.str)) text += " "
          text += item.str
          size = Math.max(size, item.height)
          lastEnd = itemX + item.width
        }
        if (item.hasEOL) endLine()
      }
      endLine()
      return lines
    })
  )

/** The value seen most often (the first such on a tie), or `undefined` for none. */
const mostCommon = (weighted: ReadonlyArray<readonly [number, number]>): number | undefined => {
  const totals = new Map<number, number>()
  for (const [value, weight] of weighted) totals.set(value, (totals.get(value) ?? 0) + weight)
  let best: number | undefined = undefined
  let bestWeight = 0
  for (const [value, weight] of totals) {
    if (weight > bestWeight) {
      best = value
      bestWeight = weight
    }
  }
  return best
}

/** Groups lines into headings and paragraphs; returns each block's page too. */
const blocksOf = (lines: ReadonlyArray<Line>): ReadonlyArray<{ readonly block: Block; readonly page: number }> => {
  const bodySize = mostCommon(lines.map((line) => [line.size, line.text.length] as const)) ?? 0
  const headingSizes = [...new Set(lines.map((line) => line.size).filter((size) => size > bodySize * headingRatio))].sort((a, b) => b - a)
  const levelOf = (size: number): number | undefined => {
    const index = headingSizes.indexOf(size)
    return index === -1 ? undefined : Math.min(index + 1, 6)
  }
  // The usual spacing between consecutive lines of one size, from the document itself.
  const spacing = new Map<number, number>()
  for (const size of new Set(lines.map((line) => line.size))) {
    const gaps: Array<readonly [number, number]> = []
    for (let i = 1; i < lines.length; i++) {
      const [previous, line] = [lines[i - 1]!, lines[i]!]
      if (previous.page === line.page && previous.size === size && line.size === size && previous.y > line.y)
        gaps.push([round(previous.y - line.y), 1])
    }
    spacing.set(size, mostCommon(gaps) ?? size * 1.25)
  }

  const blocks: Array<{ block: Block; page: number }> = []
  // Assigned in `flush` too, which control-flow narrowing does not follow.
  let current = undefined as { level: number | undefined; page: number; text: string } | undefined
  let previous: Line | undefined = undefined
  const flush = () => {
    if (current !== undefined) {
      blocks.push({
        block: current.level === undefined ? paragraph(current.text) : heading(current.level, current.text),
        page: current.page
      })
    }
    current = undefined
  }
  for (const line of lines) {
    const level = levelOf(line.size)
    const continues =
      current !== undefined &&
      previous !== undefined &&
      previous.page === line.page &&
      previous.size === line.size &&
      previous.y > line.y &&
      previous.y - line.y <= spacing.get(line.size)! * paragraphGapRatio
    if (continues && current !== undefined) {
      current.text = /\p{L}-$/u.test(current.text) ? current.text + line.text : `${current.text} ${line.text}`
    } else {
      flush()
      current = { level, page: line.page, text: line.text }
    }
    previous = line
  }
  flush()
  return blocks
}

const infoString = (info: object, key: string): string | undefined => {
  const value = (info as Record<string, unknown>)[key]
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined
}

/** Parses PDF bytes read from `source`. */
export const parsePdf = (bytes: Uint8Array, source: string): Effect.Effect<ParsedBody, unknown> =>
  Effect.acquireUseRelease(
    Effect.try({
      // pdf.js takes ownership of the buffer it is given (and refuses a Node Buffer), so it gets a plain copy.
      try: () => getDocument({ data: new Uint8Array(bytes), verbosity: VerbosityLevel.ERRORS, useSystemFonts: false }),
      catch: (error) => error
    }),
    (task) =>
      Effect.gen(function* () {
        const pdf = yield* Effect.tryPromise({ try: () => task.promise, catch: (error) => error })
        const { info, metadata: xmp } = yield* Effect.tryPromise({ try: () => pdf.getMetadata(), catch: (error) => error })
        const lines: Array<Line> = []
        for (let page = 1; page <= pdf.numPages; page++) lines.push(...(yield* readLines(pdf, page)))

        const placed = blocksOf(lines)
        const xmpTitle: unknown = xmp?.get("dc:title")
        const title =
          infoString(info, "Title") ??
          (typeof xmpTitle === "string" && xmpTitle.trim() !== "" ? xmpTitle.trim() : undefined) ??
          placed.find(({ block }) => block._tag === "Heading")?.block.text ??
          lines[0]?.text ??
          titleFromSource(source)
        const body = buildBody(
          placed.map(({ block }) => block),
          { title }
        )

        // Each page spans from its first block's start to its last block's end; an empty page is an empty span where it sits.
        const pages: Array<Schema.Json> = []
        let cursor = 0
        for (let page = 1; page <= pdf.numPages; page++) {
          let start: number | undefined = undefined
          placed.forEach(({ block, page: on }, index) => {
            if (on !== page) return
            start ??= body.blockStarts[index]!
            cursor = body.blockStarts[index]! + block.text.trim().length
          })
          pages.push({ page, start: start ?? cursor, end: cursor })
        }

        const metadata: Record<string, Schema.Json> = {
          pageCount: pdf.numPages,
          pages,
          headings: placed.filter(({ block }) => block._tag === "Heading").length
        }
        const author = infoString(info, "Author")
        if (author !== undefined) metadata["author"] = author
        return { title, text: body.text, sections: body.sections, metadata } satisfies ParsedBody
      }),
    (task) => Effect.promise(() => task.destroy())
  )
