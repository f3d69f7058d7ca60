import { readdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { scratchDir } from "./processes.ts"
import { pdfCount, readCorpusVocabulary, scopedCorpus, writeCorpus } from "./corpus.ts"

const listing = (dir: string) =>
  Effect.promise(async () => {
    const files = await Promise.all(
      ["notes", "pdfs"].map(async (folder) => (await readdir(join(dir, folder))).map((name) => join(folder, name)))
    )
    return files.flat().sort()
  })

describe("the generated corpus", () => {
  it.live("writes the asked number of documents, one PDF per 500 and at least one, notes of about 2 KB", () =>
    Effect.gen(function* () {
      const corpus = yield* scopedCorpus({ documents: 1_001 })
      assert.deepStrictEqual([corpus.documents, corpus.markdown, corpus.pdfs], [1_001, 999, 2])
      assert.deepStrictEqual(yield* listing(corpus.dir), [...corpus.files].sort())
      const sizes = yield* Effect.promise(() =>
        Promise.all(
          corpus.files.filter((file) => file.endsWith(".md")).map(async (file) => (await readFile(join(corpus.dir, file))).length)
        )
      )
      const average = sizes.reduce((sum, value) => sum + value, 0) / sizes.length
      assert.isAtLeast(average, 1_800)
      assert.isAtMost(average, 2_300)
      assert.isAtLeast(Math.min(...sizes), 1_200)
      assert.isAtMost(Math.max(...sizes), 3_200)
      const pdf = yield* Effect.promise(() => readFile(join(corpus.dir, corpus.files.at(-1)!)))
      assert.strictEqual(pdf.subarray(0, 5).toString("latin1"), "%PDF-")
      assert.deepStrictEqual([pdfCount(1), pdfCount(499), pdfCount(500), pdfCount(10_000), pdfCount(0)], [1, 1, 1, 20, 0])
    })
  )

  it.live("gives the same bytes for the same seed and other bytes for another", () =>
    Effect.gen(function* () {
      const [first, second, other] = yield* Effect.all([scratchDir("corpus-a-"), scratchDir("corpus-b-"), scratchDir("corpus-c-")])
      const read = (dir: string, file: string) => Effect.promise(() => readFile(join(dir, file)))
      const a = yield* Effect.promise(() => writeCorpus({ dir: first, documents: 30, seed: 7 }))
      yield* Effect.promise(() => writeCorpus({ dir: second, documents: 30, seed: 7 }))
      yield* Effect.promise(() => writeCorpus({ dir: other, documents: 30, seed: 8 }))
      for (const file of a.files) assert.isTrue((yield* read(first, file)).equals(yield* read(second, file)), file)
      assert.isFalse((yield* read(first, a.files[0]!)).equals(yield* read(other, a.files[0]!)))
    })
  )

  it.live("mentions the vocabulary's drugs and conditions with doses and claim cues", () =>
    Effect.gen(function* () {
      const corpus = yield* scopedCorpus({ documents: 20 })
      const vocabulary = yield* Effect.promise(() => readCorpusVocabulary())
      const text = (yield* Effect.promise(() =>
        Promise.all(corpus.files.filter((file) => file.endsWith(".md")).map((file) => readFile(join(corpus.dir, file), "utf8")))
      ))
        .join("\n")
        .toLowerCase()
      const mentioned = (spellings: ReadonlyArray<string>) => spellings.filter((term) => text.includes(term.toLowerCase())).length
      assert.isAtLeast(mentioned(vocabulary.drugs.spellings), 8)
      assert.isAtLeast(mentioned(vocabulary.conditions.spellings), 8)
      assert.match(text, /\b\d+(?:\.\d+)? ?(?:mg|mcg|g|ml)\b/)
      assert.match(text, /first-line|can cause|risk of/)
    })
  )

  it.live("names the vocabulary file and field when it lacks a kind", () =>
    Effect.gen(function* () {
      const dir = yield* scratchDir("corpus-vocabulary-")
      const file = join(dir, "vocabulary.yaml")
      yield* Effect.promise(() => writeFile(file, "dictionaries:\n  drug: [metformin]\n"))
      const error = yield* Effect.tryPromise(() => readCorpusVocabulary(file)).pipe(Effect.flip)
      assert.include(String(error.cause), `${file}: dictionaries.condition: expected a non-empty list of terms`)
    })
  )
})
