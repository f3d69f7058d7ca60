import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { chunk } from "../../../plugins/core/chunk.ts"
import { ingest } from "../../../plugins/core/ingest.ts"
import { parse } from "../../../plugins/core/parse.ts"
import { Chunk, Document as DocumentSchema } from "../../../schemas/DocumentIR.ts"
import type { Document, Section } from "../../../schemas/DocumentIR.ts"
import { batchesOf, sameWhenMapped } from "./fixtures/fanOut.ts"
import { applyByMetadata, failureOf, info, sampleDir } from "./fixtures/support.ts"
import { runStage } from "../../support/stages.ts"

const decodeChunks = Schema.decodeUnknownEffect(Schema.Array(Chunk))

/** The sample documents, as `parse` sets them in the run state. */
const sampleCorpus = runStage(ingest, { sources: [sampleDir] }, info).pipe(
  Effect.flatMap((payloads) => runStage(parse, { payloads }, info)),
  Effect.map((documents) => ({ documents: documents as ReadonlyArray<unknown> }))
)

const decodeDocuments = (corpus: { readonly documents: ReadonlyArray<unknown> }) =>
  Schema.decodeUnknownEffect(Schema.Array(DocumentSchema))(corpus.documents).pipe(Effect.map((documents) => ({ documents })))

const chunksOf = (
  corpus: { readonly documents: ReadonlyArray<unknown> },
  options: { readonly size?: number; readonly overlap?: number } = {}
) => runStage(chunk, { documents: corpus.documents, ...options }, info).pipe(Effect.flatMap(decodeChunks))

/** The section a section path names. */
const sectionAt = (document: Document, path: ReadonlyArray<string>): Section => {
  let sections: ReadonlyArray<Section> = document.sections
  let found: Section | undefined = undefined
  for (const title of path) {
    found = sections.find((section) => section.title === title)
    assert.isDefined(found, `no section ${path.join(" > ")} in ${document.source}`)
    sections = found!.sections
  }
  return found!
}

const isSpace = (char: string | undefined) => char === undefined || /\s/.test(char)

/**
 * The rules every chunking keeps: exact slices within the size, ids in order,
 * the document's title and source on each chunk, inside one section's own
 * paragraphs, consecutive chunks of a section overlapping by at most
 * `overlap` with only whitespace between them, no word cut, and every
 * character of every paragraph in some chunk.
 */
const assertChunking = (
  documents: ReadonlyArray<Document>,
  chunks: ReadonlyArray<Chunk>,
  options: { readonly size: number; readonly overlap: number }
) => {
  for (const document of documents) {
    const own = chunks.filter((piece) => piece.documentId === document.id)
    own.forEach((piece, index) => {
      const where = `${piece.id} (${piece.sectionPath.join(" > ")})`
      assert.strictEqual(piece.id, `${document.id}:${index}`)
      assert.strictEqual(piece.index, index)
      assert.strictEqual(piece.text, document.text.slice(piece.start, piece.end), where)
      assert.deepStrictEqual([piece.documentTitle, piece.documentSource], [document.title, document.source], where)
      assert.isAtMost(piece.end - piece.start, options.size, where)
      const section = sectionAt(document, piece.sectionPath)
      assert.isAtLeast(piece.start, section.paragraphs[0]!.start, where)
      assert.isAtMost(piece.end, section.paragraphs[section.paragraphs.length - 1]!.end, where)
      for (const child of section.sections)
        assert.isFalse(child.start < piece.end && child.end > piece.start, `${where} crosses into ${child.title}`)
      const paragraph = section.paragraphs.find((candidate) => candidate.start <= piece.end && piece.end <= candidate.end)!
      assert.isTrue(piece.end === paragraph.end || isSpace(document.text[piece.end]), `${where} ends mid-word`)
      const previous = own[index - 1]
      const shared = previous !== undefined && previous.start <= piece.start && piece.start < previous.end ? previous.end - piece.start : 0
      assert.strictEqual(piece.overlap, shared, `${where} shares ${shared} characters with the chunk before it`)
      if (previous !== undefined && previous.sectionPath.join("\u0000") === piece.sectionPath.join("\u0000")) {
        assert.isAbove(piece.start, previous.start, where)
        assert.isAtMost(previous.end - piece.start, options.overlap, `${where} overlaps ${previous.id} too much`)
        assert.strictEqual(document.text.slice(previous.end, piece.start).trim(), "", `${where} leaves a gap after ${previous.id}`)
        assert.isTrue(isSpace(document.text[piece.start - 1]), `${where} starts mid-word`)
      }
    })
    const visit = (section: Section) => {
      for (const paragraph of section.paragraphs) {
        for (let position = paragraph.start; position < paragraph.end; position++) {
          if (isSpace(document.text[position])) continue
          assert.isTrue(
            own.some((piece) => piece.start <= position && position < piece.end),
            `${document.source}: character ${position} of ${section.title} is in no chunk`
          )
        }
      }
      section.sections.forEach(visit)
    }
    document.sections.forEach(visit)
  }
}

/** A corpus of one document whose one section holds `paragraphs`, laid out as `parse` lays them out. */
const corpusOf = (paragraphs: ReadonlyArray<string>) => {
  const text = paragraphs.join("\n\n")
  let offset = 0
  const placed = paragraphs.map((paragraph) => {
    const start = offset
    offset += paragraph.length + 2
    return { text: paragraph, start, end: start + paragraph.length }
  })
  const section = { title: "Doc", level: 1, start: 0, end: text.length, paragraphs: placed, sections: [] }
  return { documents: [{ id: "doc", source: "/doc.txt", mediaType: "text/plain", title: "Doc", text, sections: [section], metadata: {} }] }
}

describe("core.chunk", () => {
  it.effect("declares its metadata and sets the chunks slot, counted by length", () =>
    Effect.gen(function* () {
      const output = yield* runStage(chunk, { documents: (yield* sampleCorpus).documents }, info)
      const { count, metadata, slot } = yield* applyByMetadata(chunk, output)
      assert.deepStrictEqual(
        [metadata.type, metadata.version, metadata.stateKey, metadata.output, metadata.count, metadata.dependencies],
        ["core/core.chunk", "2.1.0", "chunks", "set", "length", ["core/core.parse"]]
      )
      assert.deepStrictEqual(slot, output)
      assert.strictEqual(count, (output as ReadonlyArray<unknown>).length)
      assert.isAbove(count, 0)
    })
  )

  it.effect("with the defaults gives one chunk per section of the short samples, each with its section path", () =>
    Effect.gen(function* () {
      const corpus = yield* sampleCorpus
      const defaults = yield* chunksOf(corpus)
      assert.deepStrictEqual(defaults, yield* chunksOf(corpus, { size: 800, overlap: 100 }))
      const { documents } = yield* decodeDocuments(corpus)
      const metformin = documents.find((document) => document.title === "Metformin")!
      assert.deepStrictEqual(
        defaults.filter((piece) => piece.documentId === metformin.id).map((piece) => piece.sectionPath.join(" > ")),
        [
          "Metformin",
          "Metformin > How it works",
          "Metformin > Dosing",
          "Metformin > Dosing > Kidney function",
          "Metformin > Side effects",
          "Metformin > Interactions"
        ]
      )
      assertChunking(documents, defaults, { size: 800, overlap: 100 })
    })
  )

  for (const options of [
    { size: 200, overlap: 40 },
    { size: 120, overlap: 0 },
    { size: 90, overlap: 60 }
  ]) {
    it.effect(`cuts the samples at size ${options.size} with overlap ${options.overlap} without crossing a section`, () =>
      Effect.gen(function* () {
        const corpus = yield* sampleCorpus
        const { documents } = yield* decodeDocuments(corpus)
        const chunks = yield* chunksOf(corpus, options)
        assert.isAbove(chunks.length, documents.length * 4)
        assertChunking(documents, chunks, options)
      })
    )
  }

  it.effect("chunking the documents one by one, or two at a time, and concatenating gives what chunking them all gives", () =>
    Effect.gen(function* () {
      const { documents } = yield* sampleCorpus
      for (const size of [1, 2]) {
        const { count } = yield* sameWhenMapped(chunk, {
          whole: { documents, size: 200, overlap: 40 },
          batches: batchesOf(documents, size).map((batch) => ({ documents: batch, size: 200, overlap: 40 }))
        })
        assert.isAbove(count, documents.length * 4)
      }
    })
  )

  it.effect("prefers a paragraph break, then a sentence end, then a space", () =>
    Effect.gen(function* () {
      const paragraphs = yield* chunksOf(corpusOf(["Take metformin with food.", "Check kidney function every year."]), {
        size: 50,
        overlap: 0
      })
      assert.deepStrictEqual(
        paragraphs.map((piece) => piece.text),
        ["Take metformin with food.", "Check kidney function every year."]
      )
      const sentences = yield* chunksOf(corpusOf(["Take metformin with food. Check kidney function every year. Stop when eGFR is low."]), {
        size: 70,
        overlap: 0
      })
      assert.deepStrictEqual(
        sentences.map((piece) => piece.text),
        ["Take metformin with food. Check kidney function every year.", "Stop when eGFR is low."]
      )
      const words = yield* chunksOf(corpusOf(["amoxicillin five hundred milligrams three times daily"]), { size: 30, overlap: 10 })
      assert.deepStrictEqual(
        words.map((piece) => piece.text),
        ["amoxicillin five hundred", "hundred milligrams three times", "times daily"]
      )
    })
  )

  it.effect("cuts a run without whitespace at the size, overlapping by exactly the overlap", () =>
    Effect.gen(function* () {
      const chunks = yield* chunksOf(corpusOf(["x".repeat(250)]), { size: 100, overlap: 10 })
      assert.deepStrictEqual(
        chunks.map((piece) => [piece.id, piece.start, piece.end]),
        [
          ["doc:0", 0, 100],
          ["doc:1", 90, 190],
          ["doc:2", 180, 250]
        ]
      )
    })
  )

  it.effect("refuses an overlap not below the size, and a size below one, naming the field", () =>
    Effect.gen(function* () {
      const corpus = corpusOf(["Lisinopril 10 mg once daily."])
      const overlap = failureOf(yield* Effect.exit(runStage(chunk, { documents: corpus.documents, size: 100, overlap: 100 }, info)))
      assert.deepStrictEqual([overlap.tag, overlap.path, overlap.retryable], ["InvalidInputError", "overlap", false])
      assert.include(overlap.message, "expected less than size (100), found 100")
      const size = failureOf(yield* Effect.exit(runStage(chunk, { documents: corpus.documents, size: 0, overlap: 0 }, info)))
      assert.deepStrictEqual([size.tag, size.path], ["InvalidInputError", "size"])
    })
  )
})
