/**
 * `core/core.chunk`: cuts each document of a list into chunks of at most
 * `size` characters that overlap by at most `overlap`, for embedding and
 * retrieval. A chunk never crosses a section boundary: each section's own
 * paragraphs are chunked apart from its subsections', preferring paragraph,
 * then sentence, then word breaks. Every chunk keeps its offsets into the
 * document text (`text === document.text.slice(start, end)`), its id
 * `<documentId>:<index>`, the titles of the sections holding it, how much
 * it shares with the previous chunk, and its document's title and source (so
 * a later stage given a batch of chunks can name their documents without the
 * documents themselves). Each document is cut on its own, so
 * the stage can be mapped over documents: the chunks of a batch of documents
 * are the concatenation of each document's chunks.
 */
import { Effect, Schema } from "effect"
import { defineStage } from "@switchyard/sdk"
import { Chunk, Document } from "@switchyard/schemas/DocumentIR"
import type { Paragraph, Section } from "@switchyard/schemas/DocumentIR"
import { chunkSpans } from "./internal/chunkSpans.ts"

/** What `core.chunk` reads; the descriptions and defaults are what the registry advertises. */
export const ChunkInput = Schema.Struct({
  documents: Schema.Array(Document).annotate({ description: "The documents core.parse produced (all of them, or a batch)." }),
  size: Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))
    .annotate({ description: "Most characters in a chunk.", default: 800 })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed(800))),
  overlap: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
    .annotate({ description: "Most characters a chunk shares with the one before it; less than size.", default: 100 })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed(100)))
}).pipe(
  Schema.check(
    Schema.makeFilter(({ overlap, size }) =>
      overlap < size ? undefined : { path: ["overlap"], issue: `expected less than size (${size}), found ${overlap}` }
    )
  )
)

/**
 * A section's own paragraphs in runs that no subsection interrupts (a
 * well-formed document has one run, since its subsections follow them).
 */
const paragraphRuns = (section: Section): ReadonlyArray<ReadonlyArray<Paragraph>> => {
  const runs: Array<Array<Paragraph>> = []
  let run: Array<Paragraph> = []
  let previous: Paragraph | undefined = undefined
  for (const paragraph of [...section.paragraphs].sort((a, b) => a.start - b.start)) {
    const after = previous
    if (after !== undefined && section.sections.some((child) => child.start >= after.end && child.start < paragraph.start)) {
      runs.push(run)
      run = []
    }
    run.push(paragraph)
    previous = paragraph
  }
  if (run.length > 0) runs.push(run)
  return runs
}

/** The chunks of one document, in reading order. */
const chunkDocument = (document: Document, options: { readonly size: number; readonly overlap: number }): ReadonlyArray<Chunk> => {
  const chunks: Array<Chunk> = []
  const visit = (section: Section, titles: ReadonlyArray<string>): void => {
    const sectionPath = [...titles, section.title]
    for (const run of paragraphRuns(section)) {
      const region = { start: run[0]!.start, end: run[run.length - 1]!.end }
      const spans = chunkSpans(document.text, region, { ...options, paragraphEnds: run.map((paragraph) => paragraph.end) })
      for (const { end, start } of spans) {
        const index = chunks.length
        const previous = chunks[index - 1]
        chunks.push(
          new Chunk({
            id: `${document.id}:${index}`,
            documentId: document.id,
            index,
            text: document.text.slice(start, end),
            start,
            end,
            sectionPath,
            // Only a prefix of this chunk that the previous one holds counts (a misordered section's runs may come back).
            overlap: previous !== undefined && previous.start <= start && start < previous.end ? Math.min(previous.end, end) - start : 0,
            documentTitle: document.title,
            documentSource: document.source
          })
        )
      }
    }
    for (const child of section.sections) visit(child, sectionPath)
  }
  for (const section of document.sections) visit(section, [])
  return chunks
}

/** `{ documents: Document[], size, overlap }` → `Chunk[]`, document by document in reading order. */
export const chunk = defineStage({
  type: "core/core.chunk",
  version: "2.1.0",
  description:
    "Splits documents into overlapping chunks of bounded size that never cross a section boundary, with offsets and section paths.",
  plugin: "core",
  stateKey: "chunks",
  output: "set",
  count: "length",
  dependencies: ["core/core.parse"],
  inputs: ChunkInput,
  outputs: Schema.Array(Chunk),
  run: ({ documents, overlap, size }) => documents.flatMap((document) => chunkDocument(document, { size, overlap }))
})
