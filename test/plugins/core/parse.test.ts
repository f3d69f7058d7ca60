import { createHash } from "node:crypto"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { ingest } from "../../../plugins/core/ingest.ts"
import { parse } from "../../../plugins/core/parse.ts"
import { Document as DocumentSchema } from "../../../schemas/DocumentIR.ts"
import type { Document, Section } from "../../../schemas/DocumentIR.ts"
import { sameWhenMapped } from "./fixtures/fanOut.ts"
import { applyByMetadata, failureOf, info, routesServer, sampleDir, sampleFiles } from "./fixtures/support.ts"
import { runStage } from "../../support/stages.ts"
import * as MemoryBlobStore from "../../../services/bus/MemoryBlobStore.ts"
import { makeStageBlobs } from "../../../services/executor/internal/stageBlobs.ts"

/** The documents `parse` returned, decoded, as `{ documents }`. */
const decodeCorpus = (output: unknown) =>
  Schema.decodeUnknownEffect(Schema.Array(DocumentSchema))(output).pipe(Effect.map((documents) => ({ documents })))

const parseSources = (input: Record<string, unknown>) =>
  runStage(ingest, input, info).pipe(
    Effect.flatMap((payloads) => runStage(parse, { payloads }, info)),
    Effect.flatMap(decodeCorpus)
  )

/** Title, level and subsections of a section tree, with each section's paragraph count. */
type Outline = [title: string, level: number, paragraphs: number, sections: Array<Outline>]
const outline = (section: Section): Outline => [section.title, section.level, section.paragraphs.length, section.sections.map(outline)]

const sectionsOf = (document: Document): ReadonlyArray<Section> => {
  const all: Array<Section> = []
  const visit = (section: Section) => {
    all.push(section)
    section.sections.forEach(visit)
  }
  document.sections.forEach(visit)
  return all
}

/** The invariants every parsed document keeps: exact paragraph slices, ranges in bounds and nested. */
const assertOffsets = (document: Document) => {
  const visit = (section: Section, parent: Section | undefined) => {
    assert.isAtMost(section.start, section.end, `${document.source}: ${section.title}`)
    assert.isAtMost(section.end, document.text.length)
    if (parent !== undefined) {
      assert.isAbove(section.level, parent.level)
      assert.isAtLeast(section.start, parent.start)
      assert.isAtMost(section.end, parent.end)
    }
    for (const paragraph of section.paragraphs) {
      assert.strictEqual(document.text.slice(paragraph.start, paragraph.end), paragraph.text, `${document.source}: ${section.title}`)
      assert.isAtLeast(paragraph.start, section.start)
      assert.isAtMost(paragraph.end, section.end)
    }
    section.sections.forEach((child) => visit(child, section))
  }
  document.sections.forEach((section) => visit(section, undefined))
}

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-parse-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

describe("core.parse", () => {
  it.effect("declares its metadata and sets the documents slot to the list of documents, counted by length", () =>
    Effect.gen(function* () {
      const payloads = yield* runStage(ingest, { sources: [sampleDir] }, info)
      const output = yield* runStage(parse, { payloads }, info)
      const { count, metadata, slot } = yield* applyByMetadata(parse, output)
      assert.deepStrictEqual(
        [metadata.type, metadata.version, metadata.stateKey, metadata.output, metadata.count, metadata.dependencies],
        ["core/core.parse", "2.0.0", "documents", "set", "length", ["core/core.ingest"]]
      )
      assert.deepStrictEqual(slot, output)
      assert.strictEqual(count, sampleFiles.length)
    })
  )

  it.effect("parsing the payloads one by one and concatenating gives what parsing them all at once gives", () =>
    Effect.gen(function* () {
      const payloads = (yield* runStage(ingest, { sources: [sampleDir] }, info)) as ReadonlyArray<unknown>
      const { count, state } = yield* sameWhenMapped(parse, {
        whole: { payloads },
        batches: payloads.map((payload) => ({ payloads: [payload] }))
      })
      assert.strictEqual(count, sampleFiles.length)
      assert.strictEqual((state.documents as ReadonlyArray<unknown>).length, sampleFiles.length)
      yield* sameWhenMapped(parse, {
        whole: { payloads },
        batches: [{ payloads: payloads.slice(0, 3) }, { payloads: payloads.slice(3) }, { payloads: [] }]
      })
    })
  )

  it.effect("parses the sample corpus in payload order, each document with exact offsets", () =>
    Effect.gen(function* () {
      const { documents } = yield* parseSources({ sources: [sampleDir] })
      const payloads = yield* runStage(ingest, { sources: [sampleDir] }, info).pipe(
        Effect.map((value) => value as ReadonlyArray<{ id: string }>)
      )
      assert.deepStrictEqual(
        documents.map((document) => [document.source, document.id]),
        sampleFiles.map((file, index) => [file, payloads[index]!.id])
      )
      documents.forEach(assertOffsets)
    })
  )

  it.effect("reads HTML headings into sections and blocks into paragraphs, leaving scripts and styles out", () =>
    Effect.gen(function* () {
      const [html] = (yield* parseSources({ sources: ["hypertension.html"], baseDir: sampleDir })).documents
      assert.strictEqual(html!.title, "Hypertension: a practical guide")
      assert.deepStrictEqual(html!.metadata, { headings: 6, language: "en", author: "Switchyard examples" })
      assert.deepStrictEqual(html!.sections.map(outline), [
        [
          "High blood pressure",
          1,
          1,
          [
            ["Diagnosis", 2, 2, []],
            [
              "Treatment",
              2,
              1,
              [
                ["Medicines", 3, 6, []],
                ["Cautions", 3, 1, []]
              ]
            ],
            ["Follow-up", 2, 2, []]
          ]
        ]
      ])
      const [medicines, cautions] = html!.sections[0]!.sections[1]!.sections
      assert.strictEqual(medicines!.paragraphs[4]!.text, "Lisinopril | 10–40 mg once daily")
      assert.strictEqual(
        cautions!.paragraphs[0]!.text,
        "Avoid regular ibuprofen: it raises blood pressure and, with lisinopril, can injure the kidneys.\nRecheck potassium and creatinine two weeks after starting or increasing lisinopril."
      )
      assert.strictEqual(
        html!.sections[0]!.paragraphs[0]!.text,
        "Hypertension means blood pressure that stays at or above 140/90 mmHg in the clinic. It rarely causes symptoms, yet it raises the risk of stroke, heart attack and kidney disease."
      )
      assert.notInclude(html!.text, "console.log")
      assert.notInclude(html!.text, "font-family")
      assertOffsets(html!)
    })
  )

  it.effect("reads Markdown headings into nested sections and paragraphs, list items and code into paragraphs", () =>
    Effect.gen(function* () {
      const [markdown] = (yield* parseSources({ sources: ["metformin.md"], baseDir: sampleDir })).documents
      assert.deepStrictEqual([markdown!.title, markdown!.mediaType, markdown!.metadata], ["Metformin", "text/markdown", { headings: 6 }])
      assert.deepStrictEqual(markdown!.sections.map(outline), [
        [
          "Metformin",
          1,
          1,
          [
            ["How it works", 2, 1, []],
            ["Dosing", 2, 5, [["Kidney function", 3, 1, []]]],
            ["Side effects", 2, 2, []],
            ["Interactions", 2, 2, []]
          ]
        ]
      ])
      const [, dosing, sideEffects, interactions] = markdown!.sections[0]!.sections
      assert.strictEqual(dosing!.paragraphs[2]!.text, "Week 2: 500 mg twice daily with breakfast and the evening meal.")
      assert.match(
        sideEffects!.paragraphs[1]!.text,
        /^Lactic acidosis is rare but serious: stop metformin during severe dehydration, sepsis/
      )
      assert.strictEqual(interactions!.paragraphs[1]!.text, "Typical review: HbA1c every 3-6 months, eGFR and B12 once a year.")
      assert.strictEqual(
        markdown!.sections[0]!.paragraphs[0]!.text,
        "Metformin is the usual first medicine for adults with type 2 diabetes. It lowers blood glucose without causing weight gain and rarely causes hypoglycaemia on its own."
      )
      assert.isTrue(markdown!.text.startsWith("Metformin\n\nMetformin is the usual"))
      assertOffsets(markdown!)
    })
  )

  it.effect("reads plain text paragraphs split on blank lines into one section titled by the first line", () =>
    Effect.gen(function* () {
      const [text] = (yield* parseSources({ sources: ["notes.txt"], baseDir: sampleDir })).documents
      assert.strictEqual(text!.title, "Clinic notes: medication review")
      assert.deepStrictEqual(text!.sections.map(outline), [["Clinic notes: medication review", 1, 5, []]])
      assert.strictEqual(
        text!.sections[0]!.paragraphs[2]!.text,
        "Reports knee pain after gardening and has been taking ibuprofen 400 mg three times\ndaily for two weeks. Advised to stop ibuprofen because of the kidney risk with\nlisinopril; paracetamol 1 g up to four times daily instead."
      )
      assertOffsets(text!)
    })
  )

  it.effect("reads a PDF's pages into paragraphs by line gaps and headings by font size, with title and page count", () =>
    Effect.gen(function* () {
      const [pdf] = (yield* parseSources({ sources: ["pneumonia.pdf"], baseDir: sampleDir })).documents
      assert.strictEqual(pdf!.title, "Community-Acquired Pneumonia in Adults")
      assert.strictEqual(pdf!.metadata["pageCount"], 2)
      assert.strictEqual(pdf!.metadata["author"], "Switchyard examples")
      assert.deepStrictEqual(pdf!.sections.map(outline), [
        [
          "Community-Acquired Pneumonia in Adults",
          1,
          1,
          [
            ["Presentation", 2, 2, []],
            ["Diagnosis", 2, 1, []],
            ["Treatment", 2, 2, []],
            ["Follow-up", 2, 1, []]
          ]
        ]
      ])
      const pages = pdf!.metadata["pages"] as ReadonlyArray<{ page: number; start: number; end: number }>
      assert.deepStrictEqual(
        pages.map(({ page }) => page),
        [1, 2]
      )
      assert.isTrue(
        pdf!.text
          .slice(pages[0]!.start, pages[0]!.end)
          .endsWith(
            "C-reactive protein; the CURB-65 score combines confusion, urea, respiratory rate, blood pressure and age to estimate severity."
          )
      )
      assert.isTrue(
        pdf!.text
          .slice(pages[1]!.start, pages[1]!.end)
          .startsWith("Treatment\n\nLow-severity pneumonia is treated at home with amoxicillin 500 mg three times daily for five days.")
      )
      assert.strictEqual(pages[1]!.end, pdf!.text.length)
      assertOffsets(pdf!)
    })
  )

  it.effect("puts text before the first heading in a level 1 section titled like the document", () =>
    Effect.gen(function* () {
      const html =
        "<html><head><title>Dosing card</title></head><body><p>Read before use.</p><h2>Adults</h2><p>Amoxicillin 500 mg three times daily.</p></body></html>"
      const payload = {
        id: "card",
        source: "/cards/dosing.html",
        mediaType: "text/html",
        size: html.length,
        sha256: "0",
        content: html,
        encoding: "utf8"
      }
      const { documents } = yield* runStage(parse, { payloads: [payload] }, info).pipe(Effect.flatMap(decodeCorpus))
      assert.deepStrictEqual(documents[0]!.sections.map(outline), [
        ["Dosing card", 1, 1, []],
        ["Adults", 2, 1, []]
      ])
      assertOffsets(documents[0]!)
    })
  )

  it.effect("reads payloads kept as a file ref the same as inline ones", () =>
    Effect.gen(function* () {
      const inline = yield* parseSources({ sources: [sampleDir] })
      const byRef = yield* parseSources({ sources: [sampleDir], maxInlineBytes: 0 })
      assert.deepStrictEqual(byRef, inline)
    })
  )

  it.effect("reads payloads kept in the blob store the same as inline ones, and fails naming the payload where no store is offered", () =>
    Effect.gen(function* () {
      const inline = yield* parseSources({ sources: [sampleDir] })
      const withBlobs = { ...info, blobs: makeStageBlobs(MemoryBlobStore.make()) }
      const payloads = yield* runStage(ingest, { sources: [sampleDir], maxInlineBytes: 0 }, withBlobs)
      const stored = yield* runStage(parse, { payloads }, withBlobs).pipe(Effect.flatMap(decodeCorpus))
      assert.deepStrictEqual(stored, inline)
      const failure = failureOf(yield* Effect.exit(runStage(parse, { payloads }, info)))
      assert.match(
        failure.message,
        /the payload for \/.*hypertension\.html is in the blob store \(sha256:[0-9a-f]{64}\), and this executor offers none/
      )
      assert.isFalse(failure.retryable)
    })
  )

  it.live("reads a payload kept as a URL ref by fetching it again", () =>
    Effect.gen(function* () {
      const pdf = yield* Effect.promise(() => readFile(join(sampleDir, "pneumonia.pdf")))
      const url = yield* routesServer({ "/pneumonia.pdf": { contentType: "application/pdf", body: pdf } })
      const { documents } = yield* parseSources({ sources: [`${url}/pneumonia.pdf`], maxInlineBytes: 0 })
      assert.deepStrictEqual([documents[0]!.title, documents[0]!.metadata["pageCount"]], ["Community-Acquired Pneumonia in Adults", 2])
    }).pipe(Effect.scoped)
  )

  it.effect("fails for good on a ref whose file changed since it was ingested", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = join(dir, "note.txt")
      yield* Effect.promise(() => writeFile(file, "Lisinopril 10 mg once daily."))
      const payloads = yield* runStage(ingest, { sources: [file], maxInlineBytes: 0 }, info)
      yield* Effect.promise(() => writeFile(file, "Lisinopril 20 mg once daily."))
      const failure = failureOf(yield* Effect.exit(runStage(parse, { payloads }, info)))
      assert.include(failure.message, `${file} changed since it was ingested`)
      assert.isFalse(failure.retryable)
    }).pipe(Effect.scoped)
  )

  it.effect("fails for good on an unsupported media type, naming the source and the type", () =>
    Effect.gen(function* () {
      const png = {
        id: "img",
        source: "/scans/chest.png",
        mediaType: "image/png",
        size: 3,
        sha256: "0",
        content: "AAAA",
        encoding: "base64"
      }
      const failure = failureOf(yield* Effect.exit(runStage(parse, { payloads: [png] }, info)))
      assert.strictEqual(failure.tag, "StageError")
      assert.isFalse(failure.retryable)
      assert.include(failure.message, "/scans/chest.png has media type image/png, which is not supported")
      assert.include(failure.message, "application/pdf")
    })
  )

  it.effect("fails for good on text that is not UTF-8 and on a PDF that does not read", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* Effect.promise(() => writeFile(join(dir, "latin1.txt"), Buffer.from([0x64, 0x6f, 0x73, 0xe9, 0x0a])))
      const payloads = yield* runStage(ingest, { sources: [join(dir, "latin1.txt")] }, info)
      const latin1 = failureOf(yield* Effect.exit(runStage(parse, { payloads }, info)))
      assert.include(latin1.message, `${join(dir, "latin1.txt")} is not valid UTF-8 text`)

      const junk = Buffer.from("not a pdf at all")
      const pdf = {
        id: "junk",
        source: "/reports/junk.pdf",
        mediaType: "application/pdf",
        size: junk.byteLength,
        sha256: createHash("sha256").update(junk).digest("hex"),
        content: junk.toString("base64"),
        encoding: "base64"
      }
      const broken = failureOf(yield* Effect.exit(runStage(parse, { payloads: [pdf] }, info)))
      assert.include(broken.message, "/reports/junk.pdf is not a readable PDF")
      assert.isFalse(broken.retryable)
    }).pipe(Effect.scoped)
  )

  it.effect("starts each section at its heading in the text", () =>
    Effect.gen(function* () {
      const { documents } = yield* parseSources({ sources: [sampleDir] })
      for (const document of documents) {
        // In the samples the text before the first heading (notes.txt) also opens with the document's title.
        for (const section of sectionsOf(document))
          assert.strictEqual(document.text.slice(section.start, section.start + section.title.length), section.title)
      }
    })
  )
})
