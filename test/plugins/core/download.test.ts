import { createHash } from "node:crypto"
import { readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Schema } from "effect"
import { download, fileNamesFor } from "../../../plugins/core/download.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import type { StageFailure } from "../../../sdk/defineStage.ts"
import { applyOutput } from "../../../services/scheduler/internal/applyOutput.ts"
import { onWire } from "./fixtures/support.ts"
import { countOutput } from "../../../schemas/Count.ts"
import { eventually } from "../../support/eventually.ts"
import { fixtureText } from "./fixtures-b/chunks.ts"
import { scriptedServer, taskInfo, tempDir } from "./fixtures-b/support.ts"
import { runStage } from "../../support/stages.ts"

interface File {
  readonly url: string
  readonly path: string
  readonly size: number
  readonly sha256: string
  readonly mediaType: string
}

const care = fixtureText("cardiometabolic-care.md")
const careSha = createHash("sha256").update(care).digest("hex")
const csv = "id,drug\n1,metformin\n"

const failureOf = (exit: Exit.Exit<unknown, StageFailure>): StageFailure => {
  expect(Exit.isFailure(exit)).toBe(true)
  return (Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined) as StageFailure
}

const run = (input: Record<string, unknown>, runId = "run-1") =>
  runStage(download, { backoffMs: 1, ...input }, taskInfo(runId)).pipe(Effect.map((output) => output as unknown as Array<File>))

const listing = (dir: string) => Effect.promise(() => readdir(dir))

describe("core/core.download", () => {
  it.effect("declares its metadata: state key, set output, counted by length, no dependencies, needs the network", () =>
    Effect.gen(function* () {
      const metadata = yield* Schema.decodeUnknownEffect(StageMetadata)(JSON.parse(JSON.stringify(download.metadata)))
      expect(metadata).toMatchObject({
        type: "core/core.download",
        plugin: "core",
        version: "1.0.0",
        runtime: "inline",
        stateKey: "downloaded_files",
        output: "set",
        count: "length",
        dependencies: [],
        capabilities: { network: true }
      })
    })
  )

  it.live("downloads files with their size, SHA-256 and media type, checking an expected checksum", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((request, response) => {
        if (request.url === "/docs/care.md") {
          response.writeHead(200, { "content-type": "text/markdown; charset=utf-8" })
          return response.end(care)
        }
        // No content type: guessed from the name.
        response.writeHead(200)
        response.end(csv)
      })
      const dir = yield* tempDir("download")
      const output = yield* run({
        urls: [{ url: `${server.url}/docs/care.md`, sha256: careSha.toUpperCase() }, `${server.url}/data/drugs.csv?v=2`],
        dir
      })
      expect(output).toEqual([
        {
          url: `${server.url}/docs/care.md`,
          path: join(dir, "care.md"),
          size: Buffer.byteLength(care),
          sha256: careSha,
          mediaType: "text/markdown"
        },
        {
          url: `${server.url}/data/drugs.csv?v=2`,
          path: join(dir, "drugs.csv"),
          size: Buffer.byteLength(csv),
          sha256: createHash("sha256").update(csv).digest("hex"),
          mediaType: "text/csv"
        }
      ])
      expect(yield* Effect.promise(() => readFile(join(dir, "care.md"), "utf8"))).toBe(care)
      expect((yield* listing(dir)).sort()).toEqual(["care.md", "drugs.csv"])

      expect(countOutput(download.metadata.count, output)).toBe(2)
      const applied = applyOutput({}, { stateKey: download.metadata.stateKey, mode: download.metadata.output, output: onWire(output) })
      expect(applied._tag === "Applied" && applied.state.downloaded_files).toEqual(output)
    }).pipe(Effect.scoped)
  )

  it.live("retries after a 503 and a 429, but not after a 404", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((request, response, index) => {
        if (request.url === "/missing.pdf") {
          response.writeHead(404, { "content-type": "text/plain" })
          return response.end("no such file")
        }
        if (index < 2) {
          response.writeHead(index === 0 ? 503 : 429)
          return response.end()
        }
        response.writeHead(200, { "content-type": "text/markdown" })
        response.end(care)
      })
      const dir = yield* tempDir("download")
      const [file] = yield* run({ urls: [`${server.url}/care.md`], dir })
      expect(server.requests).toHaveLength(3)
      expect(file).toMatchObject({ size: Buffer.byteLength(care), sha256: careSha })

      const missing = failureOf(yield* Effect.exit(run({ urls: [`${server.url}/missing.pdf`], dir })))
      expect(server.requests).toHaveLength(4)
      expect(missing).toMatchObject({ tag: "DownloadError", retryable: false })
      expect(missing.message).toBe(`download of ${server.url}/missing.pdf failed: the server answered 404 Not Found`)
    }).pipe(Effect.scoped)
  )

  it.live("gives up after its retries, retryable, and leaves no partial file when the connection breaks mid-body", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((_request, response) => {
        response.writeHead(200, { "content-type": "text/markdown", "content-length": String(Buffer.byteLength(care)) })
        response.write(care.slice(0, 200), () => response.socket?.destroy())
      })
      const dir = yield* tempDir("download")
      const failure = failureOf(yield* Effect.exit(run({ urls: [`${server.url}/care.md`], dir, retries: 2 })))
      expect(server.requests).toHaveLength(3)
      expect(failure).toMatchObject({ tag: "DownloadError", retryable: true })
      expect(failure.message).toContain(`download of ${server.url}/care.md failed: while reading the body:`)
      expect(yield* listing(dir)).toEqual([])
    }).pipe(Effect.scoped)
  )

  it.live("stops a body that passes the size limit while streaming, and refuses an announced one up front", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((request, response) => {
        // Chunked: the size is only known by reading.
        response.writeHead(200, request.url === "/announced.md" ? { "content-length": String(Buffer.byteLength(care)) } : {})
        response.write(care.slice(0, 600))
        response.end(care.slice(600))
      })
      const dir = yield* tempDir("download")
      const streamed = failureOf(yield* Effect.exit(run({ urls: [`${server.url}/streamed.md`], dir, maxBytes: 1000 })))
      expect(streamed).toMatchObject({ tag: "DownloadError", retryable: false })
      expect(streamed.message).toBe(`download of ${server.url}/streamed.md failed: the body passed the limit of 1000 bytes`)
      const announced = failureOf(yield* Effect.exit(run({ urls: [`${server.url}/announced.md`], dir, maxBytes: 1000 })))
      expect(announced.message).toBe(
        `download of ${server.url}/announced.md failed: the server announced ${Buffer.byteLength(care)} bytes, more than the limit of 1000`
      )
      expect(server.requests).toHaveLength(2)
      expect(yield* listing(dir)).toEqual([])
    }).pipe(Effect.scoped)
  )

  it.live("refuses a content type outside the allowed list and a checksum that does not match", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((request, response) => {
        response.writeHead(200, { "content-type": request.url === "/page.html" ? "text/html; charset=utf-8" : "text/markdown" })
        response.end(request.url === "/page.html" ? "<html>login</html>" : care)
      })
      const dir = yield* tempDir("download")
      const html = failureOf(
        yield* Effect.exit(run({ urls: [`${server.url}/page.html`], dir, contentTypes: ["application/pdf", "text/markdown"] }))
      )
      expect(html).toMatchObject({ tag: "DownloadError", retryable: false })
      expect(html.message).toBe(
        `download of ${server.url}/page.html failed: content type text/html is not one of application/pdf, text/markdown`
      )
      expect(yield* run({ urls: [`${server.url}/care.md`], dir, contentTypes: ["text/*"] })).toHaveLength(1)

      const wrong = "0".repeat(64)
      const mismatch = failureOf(yield* Effect.exit(run({ urls: [{ url: `${server.url}/other.md`, sha256: wrong }], dir })))
      expect(mismatch).toMatchObject({ tag: "DownloadError", retryable: false })
      expect(mismatch.message).toBe(`download of ${server.url}/other.md failed: expected SHA-256 ${wrong}, found ${careSha}`)
      expect(server.requests).toHaveLength(3)
      expect(yield* listing(dir)).toEqual(["care.md"])
    }).pipe(Effect.scoped)
  )

  it.live("removes the part file of a download that is interrupted mid-body", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((_request, response) => {
        response.writeHead(200, { "content-type": "text/markdown" })
        // Half the body, then silence.
        response.write(care.slice(0, 500))
      })
      const dir = yield* tempDir("download")
      const fiber = yield* Effect.forkChild(run({ urls: [`${server.url}/care.md`], dir }))
      yield* eventually("the part file exists", listing(dir).pipe(Effect.map((files) => files.includes("care.md.part"))))
      yield* Fiber.interrupt(fiber)
      expect(yield* listing(dir)).toEqual([])
    }).pipe(Effect.scoped)
  )

  it.live("times out an attempt that hears nothing, retrying it", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer(() => {})
      const dir = yield* tempDir("download")
      const failure = failureOf(yield* Effect.exit(run({ urls: [`${server.url}/slow.md`], dir, timeoutMs: 50, retries: 1 })))
      expect(server.requests).toHaveLength(2)
      expect(failure).toMatchObject({ tag: "DownloadError", retryable: true })
      expect(failure.message).toBe(`download of ${server.url}/slow.md failed: timed out after 50 ms before a response arrived`)
    }).pipe(Effect.scoped)
  )

  it.live("writes to a folder of the run by default, and refuses URLs that are not http(s)", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((_request, response) => {
        response.writeHead(200, { "content-type": "text/markdown" })
        response.end(care)
      })
      const runId = `download-test-${process.pid}-${Date.now()}`
      yield* Effect.addFinalizer(() => Effect.promise(() => rm(join(tmpdir(), "switchyard-runs", runId), { recursive: true, force: true })))
      const [file] = yield* run({ urls: [`${server.url}/care.md`] }, runId)
      expect(file!.path).toBe(join(tmpdir(), "switchyard-runs", runId, "downloads", "care.md"))

      const refused = failureOf(yield* Effect.exit(run({ urls: ["file:///etc/passwd"] })))
      expect(refused.tag).toBe("InvalidInputError")
      expect(refused.message).toContain("urls[0]")
    }).pipe(Effect.scoped)
  )

  it("names files after the URL path, telling apart URLs that share a name", () => {
    const names = fileNamesFor([
      "https://a.example/x/data.csv",
      "https://b.example/y/data.csv",
      "https://c.example/",
      "https://d.example/a%20b%2F..%2Fc.txt"
    ])
    expect(names[0]).toMatch(/^data-[0-9a-f]{8}\.csv$/)
    expect(names[1]).toMatch(/^data-[0-9a-f]{8}\.csv$/)
    expect(names[0]).not.toBe(names[1])
    expect(names.slice(2)).toEqual(["download", "a_b_.._c.txt"])
  })
})
