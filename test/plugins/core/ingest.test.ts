import { createHash } from "node:crypto"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { ingest } from "../../../plugins/core/ingest.ts"
import { Payload } from "../../../schemas/DocumentIR.ts"
import { applyByMetadata, failureOf, info, routesServer, sampleDir, sampleFiles } from "./fixtures/support.ts"
import { runStage } from "../../support/stages.ts"
import * as MemoryBlobStore from "../../../services/bus/MemoryBlobStore.ts"
import { makeStageBlobs } from "../../../services/executor/internal/stageBlobs.ts"

const decodePayloads = Schema.decodeUnknownEffect(Schema.Array(Payload))
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

const run = (input: Record<string, unknown>) => runStage(ingest, input, info).pipe(Effect.flatMap(decodePayloads))

const emptyDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-ingest-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

describe("core.ingest", () => {
  it.effect("declares its metadata and sets the payloads slot, counted by length", () =>
    Effect.gen(function* () {
      assert.strictEqual(ingest.metadata.type, "core/core.ingest")
      const output = yield* runStage(ingest, { sources: [sampleDir] }, info)
      const { count, metadata, slot } = yield* applyByMetadata(ingest, output)
      assert.deepStrictEqual([metadata.stateKey, metadata.output, metadata.count, metadata.dependencies], ["payloads", "set", "length", []])
      assert.deepStrictEqual(slot, output)
      assert.strictEqual(count, 4)
    })
  )

  it.effect("reads a folder recursively into sorted payloads with media type, size, SHA-256 and content", () =>
    Effect.gen(function* () {
      const payloads = yield* run({ sources: [sampleDir] })
      assert.deepStrictEqual(
        payloads.map((payload) => payload.source),
        sampleFiles
      )
      assert.deepStrictEqual(
        payloads.map((payload) => [payload.mediaType, payload.encoding]),
        [
          ["text/html", "utf8"],
          ["text/markdown", "utf8"],
          ["text/plain", "utf8"],
          ["application/pdf", "base64"]
        ]
      )
      for (const payload of payloads) {
        const bytes = yield* Effect.promise(() => readFile(payload.source))
        assert.strictEqual(payload.size, bytes.byteLength, payload.source)
        assert.strictEqual(payload.sha256, sha256(bytes), payload.source)
        const content = payload.encoding === "base64" ? Buffer.from(payload.content!, "base64") : Buffer.from(payload.content!, "utf8")
        assert.isTrue(content.equals(bytes), `content of ${payload.source}`)
        assert.isUndefined(payload.ref)
      }
      assert.strictEqual(new Set(payloads.map((payload) => payload.id)).size, 4)
    })
  )

  it.effect("gives the same ids on every run, from the source location", () =>
    Effect.gen(function* () {
      const first = yield* run({ sources: [sampleDir] })
      const second = yield* run({ sources: ["notes.txt", "metformin.md"], baseDir: sampleDir })
      const idOf = (payloads: ReadonlyArray<Payload>, name: string) => payloads.find((payload) => payload.source.endsWith(name))?.id
      assert.strictEqual(idOf(second, "notes.txt"), idOf(first, "notes.txt"))
      assert.strictEqual(idOf(second, "metformin.md"), idOf(first, "metformin.md"))
      assert.match(idOf(first, "notes.txt")!, /^[0-9a-f]{16}$/)
    })
  )

  it.effect("takes records with a path (such as download's files) beside plain sources", () =>
    Effect.gen(function* () {
      const payloads = yield* run({
        sources: [{ path: join(sampleDir, "pneumonia.pdf"), url: "http://example.test/p.pdf" }, "notes.txt"],
        baseDir: sampleDir
      })
      assert.deepStrictEqual(
        payloads.map((payload) => [payload.source, payload.mediaType]),
        [
          [join(sampleDir, "notes.txt"), "text/plain"],
          [join(sampleDir, "pneumonia.pdf"), "application/pdf"]
        ]
      )
    })
  )

  it.effect("expands glob patterns and folder include patterns, resolves against baseDir and drops repeats", () =>
    Effect.gen(function* () {
      const markdown = yield* run({ sources: ["*.md"], baseDir: sampleDir })
      assert.deepStrictEqual(
        markdown.map((payload) => payload.source),
        [join(sampleDir, "metformin.md")]
      )
      const texts = yield* run({ sources: [sampleDir], include: ["**/*.txt", "**/*.html"] })
      assert.deepStrictEqual(
        texts.map((payload) => payload.source),
        [join(sampleDir, "hypertension.html"), join(sampleDir, "notes.txt")]
      )
      const repeated = yield* run({ sources: ["notes.txt", "*.txt", join(sampleDir, "notes.txt")], baseDir: sampleDir })
      assert.strictEqual(repeated.length, 1)
    })
  )

  it.effect("keeps files past maxInlineBytes as a ref to the file, still sized and hashed", () =>
    Effect.gen(function* () {
      const payloads = yield* run({ sources: [sampleDir], maxInlineBytes: 1000 })
      const bySize = payloads.map((payload) => [
        payload.source.slice(sampleDir.length + 1),
        payload.ref !== undefined,
        payload.content !== undefined
      ])
      assert.deepStrictEqual(bySize, [
        ["hypertension.html", true, false],
        ["metformin.md", true, false],
        ["notes.txt", false, true],
        ["pneumonia.pdf", true, false]
      ])
      const pdf = payloads[3]!
      const bytes = yield* Effect.promise(() => readFile(pdf.source))
      assert.deepStrictEqual([pdf.ref, pdf.size, pdf.sha256], [pdf.source, bytes.byteLength, sha256(bytes)])
    })
  )

  it.effect("stores files past maxInlineBytes in the run's blob store when the executor offers one, as opaque bytes", () =>
    Effect.gen(function* () {
      const blobs = makeStageBlobs(MemoryBlobStore.make())
      const payloads = yield* runStage(ingest, { sources: [sampleDir], maxInlineBytes: 1000 }, { ...info, blobs }).pipe(
        Effect.flatMap(decodePayloads)
      )
      assert.deepStrictEqual(
        payloads.map((payload) => [payload.source.slice(sampleDir.length + 1), payload.blob !== undefined, payload.ref ?? null]),
        [
          ["hypertension.html", true, null],
          ["metformin.md", true, null],
          ["notes.txt", false, null],
          ["pneumonia.pdf", true, null]
        ]
      )
      const pdf = payloads[3]!
      const bytes = yield* Effect.promise(() => readFile(pdf.source))
      assert.deepStrictEqual(
        [pdf.size, pdf.sha256, pdf.blob!.$blob, pdf.blob!.mediaType],
        [bytes.byteLength, sha256(bytes), `sha256:${sha256(bytes)}`, "application/octet-stream"]
      )
      assert.deepStrictEqual(yield* Effect.promise(() => blobs.get(pdf.blob!)), new Uint8Array(bytes))
    })
  )

  it.effect("fails for good, naming the source, on a missing file, a pattern matching nothing or an empty folder", () =>
    Effect.gen(function* () {
      const missing = failureOf(yield* Effect.exit(runStage(ingest, { sources: ["notes.txt", "absent.md"], baseDir: sampleDir }, info)))
      assert.strictEqual(missing.tag, "StageError")
      assert.isFalse(missing.retryable)
      assert.include(missing.message, "the source absent.md does not exist")
      assert.include(missing.message, join(sampleDir, "absent.md"))

      const pattern = failureOf(yield* Effect.exit(runStage(ingest, { sources: ["*.docx"], baseDir: sampleDir }, info)))
      assert.include(pattern.message, "the pattern *.docx matches no file")

      const dir = yield* emptyDir
      const empty = failureOf(yield* Effect.exit(runStage(ingest, { sources: [dir] }, info)))
      assert.include(empty.message, `the folder ${dir} holds no file matching **/*`)

      const none = failureOf(yield* Effect.exit(runStage(ingest, { sources: [] }, info)))
      assert.deepStrictEqual([none.tag, none.path], ["InvalidInputError", "sources"])
    }).pipe(Effect.scoped)
  )

  it.live("fetches URLs with the declared media type, or one guessed from the path, inline or as a ref", () =>
    Effect.gen(function* () {
      const pdf = yield* Effect.promise(() => readFile(join(sampleDir, "pneumonia.pdf")))
      const url = yield* routesServer({
        "/guide": { contentType: "text/markdown; charset=utf-8", body: "# Guide\n\nTake ibuprofen 400 mg with food.\n" },
        "/files/pneumonia.pdf": { body: pdf },
        "/big.txt": { contentType: "text/plain", body: "metformin ".repeat(100) }
      })
      const payloads = yield* run({ sources: [`${url}/guide`, `${url}/files/pneumonia.pdf`, `${url}/big.txt`], maxInlineBytes: 500 })
      assert.deepStrictEqual(
        payloads.map((payload) => [payload.source, payload.mediaType, payload.encoding ?? null, payload.ref ?? null]),
        [
          [`${url}/big.txt`, "text/plain", null, `${url}/big.txt`],
          [`${url}/files/pneumonia.pdf`, "application/pdf", null, `${url}/files/pneumonia.pdf`],
          [`${url}/guide`, "text/markdown", "utf8", null]
        ]
      )
      assert.strictEqual(payloads[2]!.content, "# Guide\n\nTake ibuprofen 400 mg with food.\n")
      assert.deepStrictEqual([payloads[1]!.size, payloads[1]!.sha256], [pdf.byteLength, sha256(pdf)])
      assert.strictEqual(payloads[0]!.size, 1000)
    }).pipe(Effect.scoped)
  )

  it.live("fails on an error response, naming the URL and status, retryable only for server errors", () =>
    Effect.gen(function* () {
      const url = yield* routesServer({ "/busy": { status: 503, contentType: "text/plain", body: "try later" } })
      const missing = failureOf(yield* Effect.exit(runStage(ingest, { sources: [`${url}/gone.md`] }, info)))
      assert.include(missing.message, `fetching ${url}/gone.md answered 404`)
      assert.isFalse(missing.retryable)
      const busy = failureOf(yield* Effect.exit(runStage(ingest, { sources: [`${url}/busy`] }, info)))
      assert.include(busy.message, `fetching ${url}/busy answered 503`)
      assert.isTrue(busy.retryable)
    }).pipe(Effect.scoped)
  )
})
