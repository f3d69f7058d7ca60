import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { chunk } from "../../../plugins/core/chunk.ts"
import { extract } from "../../../plugins/core/extract.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import type { StageFailure } from "../../../sdk/defineStage.ts"
import { applyOutput } from "../../../services/scheduler/internal/applyOutput.ts"
import { onWire } from "./fixtures/support.ts"
import { countOutput } from "../../../schemas/Count.ts"
import { careChunks, fixtureText, respiratoryChunks } from "./fixtures-b/chunks.ts"
import { sampleCorpus } from "./fixtures-b/corpus.ts"
import { taskInfo, tempDir } from "./fixtures-b/support.ts"
import { batchesOf, sameWhenMapped } from "./fixtures/fanOut.ts"
import { runStage } from "../../support/stages.ts"

interface Mention {
  readonly id: string
  readonly kind: string
  readonly name: string
  readonly text: string
  readonly chunkId: string
  readonly start: number
  readonly end: number
}
interface Claim {
  readonly id: string
  readonly subject: string
  readonly predicate: string
  readonly object: string
  readonly text: string
  readonly chunkId: string
  readonly start: number
  readonly end: number
}
interface Finding {
  readonly chunk: { readonly id: string }
  readonly entities: ReadonlyArray<Mention>
  readonly claims: ReadonlyArray<Claim>
}
interface Extracted {
  readonly entities: ReadonlyArray<Mention>
  readonly claims: ReadonlyArray<Claim>
  readonly findings: ReadonlyArray<Finding>
}

const vocabulary = "examples/config/medical-vocabulary.yaml"
const careText = fixtureText("cardiometabolic-care.md")

const run = (input: Record<string, unknown>) =>
  runStage(extract, input, taskInfo()).pipe(Effect.map((output) => output as unknown as Extracted))

const failureOf = (exit: Exit.Exit<unknown, StageFailure>): StageFailure => {
  expect(Exit.isFailure(exit)).toBe(true)
  return (Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined) as StageFailure
}

const chunkOf = (text: string, id = "d:0", start = 0) => ({
  id,
  documentId: id.split(":")[0],
  index: 0,
  text,
  start,
  end: start + text.length,
  sectionPath: []
})

describe("core/core.extract", () => {
  it.effect("declares its metadata: unpacked into entities, claims and findings, counted as entities plus claims, after chunk", () =>
    Effect.gen(function* () {
      const metadata = yield* Schema.decodeUnknownEffect(StageMetadata)(JSON.parse(JSON.stringify(extract.metadata)))
      expect(metadata).toMatchObject({
        type: "core/core.extract",
        plugin: "core",
        version: "1.2.0",
        runtime: "inline",
        stateKey: ["entities", "claims", "findings"],
        output: "unpack",
        count: "length(entities) + length(claims)",
        dependencies: ["core/core.chunk"]
      })
    })
  )

  it.effect("finds drugs, conditions and doses from the medical vocabulary file, with offsets into the document", () =>
    Effect.gen(function* () {
      const output = yield* run({ chunks: careChunks(), vocabulary })
      for (const entity of output.entities) expect(careText.slice(entity.start, entity.end)).toBe(entity.text)
      const first = output.entities.filter((entity) => entity.chunkId === "care:0").map((entity) => [entity.id, entity.text])
      expect(first).toEqual([
        ["drug:metformin", "Metformin"],
        ["condition:type 2 diabetes", "type 2 diabetes"],
        ["dose:500 mg twice daily", "500 mg twice daily"],
        ["drug:metformin", "Metformin"],
        ["condition:lactic acidosis", "lactic acidosis"],
        ["condition:chronic kidney disease", "chronic kidney disease"]
      ])
      // Aliases map to the canonical name, so every spelling shares one entity id.
      expect(output.entities.find((entity) => entity.text === "T2DM")).toMatchObject({
        id: "condition:type 2 diabetes",
        kind: "condition",
        name: "type 2 diabetes"
      })
      expect(output.entities.find((entity) => entity.text === "Paracetamol")).toMatchObject({
        id: "drug:acetaminophen",
        name: "acetaminophen"
      })

      const applied = applyOutput(
        { chunks: onWire(careChunks()) },
        { stateKey: extract.metadata.stateKey, mode: extract.metadata.output, output: onWire(output) }
      )
      expect(applied._tag === "Applied" && [applied.state.entities, applied.state.claims, applied.state.findings]).toEqual([
        output.entities,
        output.claims,
        output.findings
      ])
      expect(countOutput(extract.metadata.count, output)).toBe(output.entities.length + output.claims.length)
      expect(output.claims.length).toBeGreaterThan(0)
    })
  )

  it.effect("states sentence-level claims, choosing the cue nearest the object and falling back to associated_with", () =>
    Effect.gen(function* () {
      // has_dose allows 60 characters between drug and dose: lisinopril's "10 mg once daily" is 77 away.
      const { claims } = yield* run({ chunks: careChunks(), vocabulary })
      const triples = claims.map((claim) => `${claim.subject} ${claim.predicate} ${claim.object}`)
      expect(triples).toEqual([
        "drug:metformin treats condition:type 2 diabetes",
        "drug:metformin causes condition:lactic acidosis",
        "drug:metformin causes condition:chronic kidney disease",
        "drug:lisinopril treats condition:hypertension",
        "drug:lisinopril causes condition:angioedema",
        "drug:amlodipine has_dose dose:5 mg once daily",
        "drug:atorvastatin treats condition:hyperlipidemia",
        "drug:atorvastatin causes condition:myopathy",
        "drug:ibuprofen treats condition:osteoarthritis",
        "drug:ibuprofen treats condition:pain",
        "drug:ibuprofen has_dose dose:400 mg three times daily",
        "drug:ibuprofen causes condition:gastrointestinal bleeding",
        "drug:acetaminophen associated_with condition:pain",
        "drug:acetaminophen associated_with condition:fever"
      ])
      const first = claims[0]!
      expect(first).toEqual({
        id: `treats(drug:metformin,condition:type 2 diabetes)@care:0:${first.start}`,
        subject: "drug:metformin",
        predicate: "treats",
        object: "condition:type 2 diabetes",
        text: "Metformin is the first-line treatment for type 2 diabetes in most adults.",
        chunkId: "care:0",
        start: first.start,
        end: first.end
      })
      expect(careText.slice(first.start, first.end)).toBe(first.text)
    })
  )

  it.live("lists the findings chunk by chunk: each given chunk with the entities and claims found in it, in order", () =>
    Effect.gen(function* () {
      const { chunks } = yield* sampleCorpus
      const { claims, entities, findings } = yield* run({ chunks, vocabulary })
      expect(findings.map((finding) => finding.chunk)).toEqual(chunks)
      expect(findings.flatMap((finding) => finding.entities)).toEqual(entities)
      expect(findings.flatMap((finding) => finding.claims)).toEqual(claims)
      for (const finding of findings) {
        for (const found of [...finding.entities, ...finding.claims]) expect(found.chunkId).toBe(finding.chunk.id)
      }
      // A chunk in which nothing is found still has its finding.
      const { findings: bare } = yield* run({ chunks: [chunkOf("Nothing to see here.")], vocabulary })
      expect(bare).toEqual([{ chunk: chunkOf("Nothing to see here."), entities: [], claims: [] }])
    })
  )

  it.live("finds the sample corpus's drugs, doses and claims, with offsets into each document's text", () =>
    Effect.gen(function* () {
      const { chunks, documents } = yield* sampleCorpus
      const { claims, entities } = yield* run({ chunks, vocabulary })
      const textOf = (chunkId: string) =>
        documents.find((document) => document.id === chunks.find((chunk) => chunk.id === chunkId)!.documentId)!
      for (const entity of [...entities, ...claims]) expect(textOf(entity.chunkId).text.slice(entity.start, entity.end)).toBe(entity.text)
      const titlesMentioning = (id: string) =>
        [...new Set(entities.filter((entity) => entity.id === id).map((entity) => textOf(entity.chunkId).title))].sort()
      expect(titlesMentioning("drug:metformin")).toEqual([
        "Clinic notes: medication review",
        "Community-Acquired Pneumonia in Adults",
        "Metformin"
      ])
      expect(titlesMentioning("drug:amoxicillin")).toEqual(["Clinic notes: medication review", "Community-Acquired Pneumonia in Adults"])
      const stated = claims.map((claim) => `${claim.subject} ${claim.predicate} ${claim.object} | ${textOf(claim.chunkId).title}`)
      expect(stated).toContain("drug:amoxicillin treats condition:pneumonia | Community-Acquired Pneumonia in Adults")
      expect(stated).toContain("drug:amoxicillin has_dose dose:500 mg three times daily | Community-Acquired Pneumonia in Adults")
      expect(stated).toContain("drug:metformin associated_with condition:type 2 diabetes | Metformin")
      expect(stated).toContain("drug:amlodipine has_dose dose:5 mg once daily | Hypertension: a practical guide")
    })
  )

  it.effect("matches dictionary terms case-insensitively as whole words, longest first, across line breaks", () =>
    Effect.gen(function* () {
      const { entities } = yield* run({
        chunks: [
          chunkOf(
            "METFORMIN-associated nausea; metformins are not a term. Type 2\ndiabetes, or type 2, and community-acquired pneumonia.",
            "d:0",
            40
          )
        ],
        dictionaries: {
          drug: ["metformin"],
          condition: [{ name: "Type 2 Diabetes", aliases: ["type 2"] }, "pneumonia", "community-acquired pneumonia"]
        }
      })
      expect(entities.map((entity) => [entity.id, entity.text, entity.start])).toEqual([
        ["drug:metformin", "METFORMIN", 40],
        ["condition:type 2 diabetes", "Type 2\ndiabetes", 96],
        ["condition:type 2 diabetes", "type 2", 116],
        ["condition:community-acquired pneumonia", "community-acquired pneumonia", 128]
      ])
    })
  )

  it.effect("merges inline dictionaries and patterns into the file's vocabulary", () =>
    Effect.gen(function* () {
      const { claims, entities } = yield* run({
        chunks: respiratoryChunks(),
        vocabulary,
        dictionaries: { organism: ["atypical organism"] },
        patterns: { duration: "\\bfor (?:five|\\d+) days\\b" },
        claims: [{ predicate: "given_for", subjectKind: "drug", objectKind: "duration" }]
      })
      expect(entities.filter((entity) => entity.kind === "organism" || entity.kind === "duration").map((entity) => entity.id)).toEqual([
        "duration:for five days",
        "organism:atypical organism"
      ])
      expect(entities.some((entity) => entity.id === "drug:amoxicillin")).toBe(true)
      expect(claims.map((claim) => claim.id)).toContain(
        `given_for(drug:amoxicillin,duration:for five days)@respiratory:0:${claims[0]!.start}`
      )
    })
  )

  it.effect("reports a mention in overlapping chunks once", () =>
    Effect.gen(function* () {
      const text = "Lisinopril is prescribed for hypertension. Lisinopril can cause angioedema."
      const { claims, entities } = yield* run({
        chunks: [chunkOf(text.slice(0, 60), "d:0", 0), { ...chunkOf(text.slice(30), "d:1", 30), documentId: "d" }],
        vocabulary
      })
      expect(entities.map((entity) => `${entity.id}@${entity.start}`)).toEqual([
        "drug:lisinopril@0",
        "condition:hypertension@29",
        "drug:lisinopril@43",
        "condition:angioedema@64"
      ])
      expect(claims.map((claim) => claim.predicate)).toEqual(["treats", "causes"])
    })
  )

  it.effect("leaves what lies wholly in a chunk's overlap to the previous chunk, so each chunk alone reports the same", () =>
    Effect.gen(function* () {
      const text = "Lisinopril is prescribed for hypertension. Lisinopril can cause angioedema."
      const chunks = [
        { ...chunkOf(text.slice(0, 60), "d:0", 0), overlap: 0 },
        { ...chunkOf(text.slice(30), "d:1", 30), documentId: "d", index: 1, overlap: 30 }
      ]
      const whole = yield* run({ chunks, vocabulary })
      expect(whole.entities.map((entity) => `${entity.id}@${entity.start} in ${entity.chunkId}`)).toEqual([
        "drug:lisinopril@0 in d:0",
        "condition:hypertension@29 in d:0",
        "drug:lisinopril@43 in d:0",
        "condition:angioedema@64 in d:1"
      ])
      expect(whole.claims.map((claim) => `${claim.predicate} in ${claim.chunkId}`)).toEqual(["treats in d:0", "causes in d:1"])
      // The second "Lisinopril" (43..53) lies wholly in the overlap (30..60): d:1 leaves it to d:0, even when alone.
      const [first, second] = yield* Effect.forEach(chunks, (chunk) => run({ chunks: [chunk], vocabulary }))
      expect([...first!.entities, ...second!.entities]).toEqual(whole.entities)
      expect([...first!.claims, ...second!.claims]).toEqual(whole.claims)
      expect([...first!.findings, ...second!.findings]).toEqual(whole.findings)
    })
  )

  it.live(
    "extracting the sample chunks one by one, or in threes, and concatenating gives what extracting them all gives, findings too",
    () =>
      Effect.gen(function* () {
        const { chunks } = yield* sampleCorpus
        for (const size of [1, 3]) {
          const { state } = yield* sameWhenMapped(extract, {
            whole: { chunks, vocabulary },
            batches: batchesOf(chunks, size).map((batch) => ({ chunks: batch, vocabulary }))
          })
          // The counts the example pipeline reports for the sample corpus; one finding per chunk.
          expect([
            (state.entities as ReadonlyArray<unknown>).length,
            (state.claims as ReadonlyArray<unknown>).length,
            (state.findings as ReadonlyArray<unknown>).length
          ]).toEqual([54, 16, chunks.length])
        }
        // Cut finer, chunks overlap more often; each still reports only what is its own.
        const documents = (yield* sampleCorpus).documents
        const small = (yield* runStage(chunk, { documents, size: 150, overlap: 50 }, taskInfo())) as unknown as ReadonlyArray<{
          readonly overlap: number
        }>
        expect(small.filter((piece) => piece.overlap > 0).length).toBeGreaterThan(5)
        yield* sameWhenMapped(extract, {
          whole: { chunks: small, vocabulary },
          batches: small.map((piece) => ({ chunks: [piece], vocabulary }))
        })
      })
  )

  it.live("names the file, position and field of a malformed vocabulary", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("vocabulary")
      const missingName = join(dir, "missing-name.yaml")
      yield* Effect.promise(() => writeFile(missingName, "dictionaries:\n  drug:\n    - metformin\n    - aliases: [advil]\n"))
      const badName = failureOf(yield* Effect.exit(run({ chunks: careChunks(), vocabulary: missingName })))
      expect(badName).toMatchObject({ tag: "VocabularyError", retryable: false })
      expect(badName.message).toBe(`${missingName}:4:7: dictionaries.drug[1].name: expected required field "name", found nothing`)

      const wrongType = join(dir, "wrong-type.yaml")
      yield* Effect.promise(() =>
        writeFile(wrongType, "claims:\n  - predicate: treats\n    subjectKind: drug\n    objectKind: [condition]\n")
      )
      const typed = failureOf(yield* Effect.exit(run({ chunks: careChunks(), vocabulary: wrongType })))
      expect(typed.message).toBe(`${wrongType}:4:17: claims[0].objectKind: expected string, found ["condition"]`)

      const badRegex = join(dir, "bad-regex.yaml")
      yield* Effect.promise(() => writeFile(badRegex, "patterns:\n  dose: '\\d+ (mg'\n"))
      const regex = failureOf(yield* Effect.exit(run({ chunks: careChunks(), vocabulary: badRegex })))
      expect(
        regex.message.startsWith(`${badRegex}:2:9: patterns.dose: expected a regular expression, found ${JSON.stringify("\\d+ (mg")} (`)
      ).toBe(true)

      const absent = failureOf(yield* Effect.exit(run({ chunks: careChunks(), vocabulary: join(dir, "absent.yaml") })))
      expect(absent.message).toContain(`${join(dir, "absent.yaml")}: cannot read the vocabulary file: ENOENT`)

      const inline = failureOf(
        yield* Effect.exit(run({ chunks: careChunks(), claims: [{ predicate: "p", subjectKind: "a", objectKind: "b", cue: "(" }] }))
      )
      expect(inline.message).toMatch(/^core\/core\.extract input: claims\[0\]\.cue: expected a regular expression, found "\("/)
    }).pipe(Effect.scoped)
  )
})
