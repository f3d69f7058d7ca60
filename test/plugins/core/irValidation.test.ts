import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ingest } from "../../../plugins/core/ingest.ts"
import { irValidation } from "../../../plugins/core/irValidation.ts"
import { parse } from "../../../plugins/core/parse.ts"
import { sameWhenMapped } from "./fixtures/fanOut.ts"
import { applyByMetadata, failureOf, info, sampleDir } from "./fixtures/support.ts"
import { runStage } from "../../support/stages.ts"

/** The sample corpus as JSON, the way it sits in the run state. */
interface SectionJson {
  title: string
  level: number
  start: number
  end: number
  paragraphs: Array<{ text: string; start: number; end: number }>
  sections: Array<SectionJson>
}
interface DocumentJson {
  id: string
  text: string
  sections: Array<SectionJson>
}
interface CorpusJson {
  documents: Array<DocumentJson>
}

const sampleCorpus = runStage(ingest, { sources: [sampleDir] }, info).pipe(
  Effect.flatMap((payloads) => runStage(parse, { payloads }, info)),
  Effect.map((documents): CorpusJson => ({ documents: documents as unknown as Array<DocumentJson> }))
)

/** The violation lines of a failed validation of `documents`. */
const violationsOf = (documents: unknown) =>
  Effect.gen(function* () {
    const failure = failureOf(yield* Effect.exit(runStage(irValidation, { documents }, info)))
    assert.deepStrictEqual([failure.tag, failure.retryable], ["StageError", false])
    const [header, ...lines] = failure.message.split("\n")
    assert.strictEqual(header, `core.ir-validation: ${lines.length} ${lines.length === 1 ? "violation" : "violations"} of the Document IR:`)
    return lines.map((line) => line.trim())
  })

describe("core.ir-validation", () => {
  it.effect("declares its metadata and passes a valid list of documents on unchanged, counted by length", () =>
    Effect.gen(function* () {
      const { documents } = yield* sampleCorpus
      const output = yield* runStage(irValidation, { documents }, info)
      assert.deepStrictEqual<unknown>(output, documents)
      const { count, metadata, slot } = yield* applyByMetadata(irValidation, output)
      assert.deepStrictEqual(
        [metadata.type, metadata.version, metadata.stateKey, metadata.output, metadata.count, metadata.dependencies],
        ["core/core.ir-validation", "2.0.0", "documents", "set", "length", ["core/core.parse"]]
      )
      assert.deepStrictEqual<unknown>(slot, documents)
      assert.strictEqual(count, documents.length)
    })
  )

  it.effect("validating the documents one by one and concatenating gives what validating them all at once gives", () =>
    Effect.gen(function* () {
      const { documents } = yield* sampleCorpus
      const { state } = yield* sameWhenMapped(irValidation, {
        whole: { documents },
        batches: documents.map((document) => ({ documents: [document] }))
      })
      assert.deepStrictEqual<unknown>(state.documents, documents)
    })
  )

  it.effect("reports every schema violation by path, with what was expected and found", () =>
    Effect.gen(function* () {
      const corpus = structuredClone(yield* sampleCorpus)
      corpus.documents[0]!.sections[0]!.level = 0
      corpus.documents[1]!.sections[0]!.sections[1]!.paragraphs[0]!.start = -3
      delete (corpus.documents[2] as Partial<DocumentJson>).id
      assert.deepStrictEqual(yield* violationsOf(corpus.documents), [
        "documents[0].sections[0].level: Expected a value greater than 0, found 0",
        "documents[1].sections[0].sections[1].paragraphs[0].start: Expected a value greater than or equal to 0, found -3",
        "documents[2].id: Missing key"
      ])
      assert.deepStrictEqual(yield* violationsOf({ documents: [] }), ['documents: Expected array, found {"documents":[]}'])
      assert.deepStrictEqual(yield* violationsOf("a corpus"), ['documents: Expected array, found "a corpus"'])
    })
  )

  it.effect("reports offsets past the text, starts after ends and paragraph text that is not its slice", () =>
    Effect.gen(function* () {
      const corpus = structuredClone(yield* sampleCorpus)
      const markdown = corpus.documents[1]!
      const length = markdown.text.length
      const interactions = markdown.sections[0]!.sections[3]!
      interactions.paragraphs[1]!.end = length + 32
      interactions.end = length + 32
      markdown.sections[0]!.end = length + 32
      const howItWorks = markdown.sections[0]!.sections[0]!
      howItWorks.paragraphs[0]!.text = "Metformin increases insulin secretion."
      const notes = corpus.documents[2]!.sections[0]!
      notes.paragraphs[1]!.start = notes.paragraphs[1]!.end + 1
      assert.deepStrictEqual(yield* violationsOf(corpus.documents), [
        `documents[1].sections[0].end: ${length + 32} is past the end of the text (${length})`,
        `documents[1].sections[0].sections[0].paragraphs[0].text: "Metformin increases insulin secretion." does not match the text at ${howItWorks.paragraphs[0]!.start}..${howItWorks.paragraphs[0]!.end} ("Metformin reduces the amount of glucose the liver releas...)`,
        `documents[1].sections[0].sections[3].end: ${length + 32} is past the end of the text (${length})`,
        `documents[1].sections[0].sections[3].paragraphs[1].end: ${length + 32} is past the end of the text (${length})`,
        `documents[2].sections[0].paragraphs[1]: start ${notes.paragraphs[1]!.start} is after end ${notes.paragraphs[1]!.end}`
      ])
    })
  )

  it.effect("reports sections that are not nested properly: level, range, sibling order and overlap", () =>
    Effect.gen(function* () {
      const corpus = structuredClone(yield* sampleCorpus)
      const root = corpus.documents[0]!.sections[0]!
      const [diagnosis, treatment, followUp] = root.sections
      treatment!.sections[1]!.level = 2
      followUp!.end = root.end + 5
      treatment!.start = diagnosis!.end - 10
      assert.deepStrictEqual(yield* violationsOf(corpus.documents), [
        `documents[0].sections[0].sections[1].start: ${treatment!.start} is before the end of the previous section (sections[0] ends at ${diagnosis!.end})`,
        `documents[0].sections[0].sections[1].sections[1].level: 2 is not deeper than its parent's level 2`,
        `documents[0].sections[0].sections[2].end: ${followUp!.end} is past the end of the text (${root.end})`,
        `documents[0].sections[0].sections[2]: range ${followUp!.start}..${followUp!.end} is outside its parent section's range ${root.start}..${root.end}`
      ])
    })
  )

  it.effect("reports paragraphs outside their section and paragraphs out of order", () =>
    Effect.gen(function* () {
      const corpus = structuredClone(yield* sampleCorpus)
      const diagnosis = corpus.documents[0]!.sections[0]!.sections[0]!
      const [first, second] = diagnosis.paragraphs
      first!.start = diagnosis.start - 5
      first!.text = corpus.documents[0]!.text.slice(first!.start, first!.end)
      second!.start = first!.end - 4
      second!.text = corpus.documents[0]!.text.slice(second!.start, second!.end)
      assert.deepStrictEqual(yield* violationsOf(corpus.documents), [
        `documents[0].sections[0].sections[0].paragraphs[0]: range ${first!.start}..${first!.end} is outside its section's range ${diagnosis.start}..${diagnosis.end}`,
        `documents[0].sections[0].sections[0].paragraphs[1].start: ${second!.start} is before the end of the previous paragraph (paragraphs[0] ends at ${first!.end})`
      ])
    })
  )

  it.effect("reports empty text and a document id used twice", () =>
    Effect.gen(function* () {
      const corpus = structuredClone(yield* sampleCorpus)
      corpus.documents[3]!.id = corpus.documents[1]!.id
      corpus.documents.push({ ...corpus.documents[2]!, id: "blank", text: "  ", sections: [] })
      assert.deepStrictEqual(yield* violationsOf(corpus.documents), [
        `documents[3].id: ${JSON.stringify(corpus.documents[1]!.id)} is also the id of documents[1]`,
        "documents[4].text: is empty"
      ])
    })
  )
})
