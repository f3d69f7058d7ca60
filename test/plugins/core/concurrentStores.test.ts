import { spawn } from "node:child_process"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { extract } from "../../../plugins/core/extract.ts"
import { openGraphStore } from "../../../plugins/core/internal/graphStore.ts"
import { openVectorStore } from "../../../plugins/core/internal/vectorStore.ts"
import { sampleCorpus } from "./fixtures-b/corpus.ts"
import { taskInfo, tempDir } from "./fixtures-b/support.ts"
import { runStage } from "../../support/stages.ts"

const script = join(import.meta.dirname, "fixtures-b", "writeBatches.ts")

interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Starts one writer process per input list (each running `stage` once per input), lets them all start writing
 * at once when every one is ready, and waits for each to exit.
 */
const writeAtOnce = (stage: string, dir: string, inputLists: ReadonlyArray<ReadonlyArray<unknown>>) =>
  Effect.promise(async () => {
    const files = await Promise.all(
      inputLists.map(async (inputs, position) => {
        const file = join(dir, `${stage}-inputs-${position}.json`)
        await writeFile(file, JSON.stringify(inputs))
        return file
      })
    )
    const writers = files.map((file) => {
      const child = spawn(process.execPath, ["--conditions=@switchyard/source", script, stage, file], {
        stdio: ["pipe", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      let markReady: () => void = () => undefined
      const ready = new Promise<void>((resolve) => (markReady = resolve))
      child.stdout.setEncoding("utf8").on("data", (data: string) => {
        stdout += data
        if (stdout.startsWith("ready\n")) markReady()
      })
      child.stderr.setEncoding("utf8").on("data", (data: string) => (stderr += data))
      const finished = new Promise<Finished>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })))
      // A writer that dies before it is ready must not leave the test waiting for it.
      return { child, ready: Promise.race([ready, finished]), finished }
    })
    await Promise.all(writers.map((writer) => writer.ready))
    for (const writer of writers) writer.child.stdin.end("go\n")
    const results = await Promise.all(writers.map((writer) => writer.finished))
    return results.map(({ code, stderr, stdout }) => {
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
      return JSON.parse(stdout.slice("ready\n".length)) as ReadonlyArray<unknown>
    })
  })

describe("core stores shared by several processes", () => {
  it.live(
    "two processes indexing different batches into one new vector store at once keep every vector",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir("stores")
        const store = join(dir, "shared", "index.db")
        // Each id gets its own vector, so a query finds exactly the row it was written as.
        const seeds = new Map<string, number>()
        const embedding = (chunkId: string) => {
          if (!seeds.has(chunkId)) seeds.set(chunkId, seeds.size + 1)
          const seed = seeds.get(chunkId)!
          return {
            chunkId,
            provider: "hashing",
            model: "test-16",
            vector: Array.from({ length: 16 }, (_, position) => Math.sin(seed * 7.3 + position * 1.1) + (position === seed % 16 ? 2 : 0))
          }
        }
        // One call per vector makes as many transactions as possible compete for the file; the "both" ids are
        // written by each process, an upsert that must leave one row.
        const inputsOf = (name: string) =>
          Array.from({ length: 150 }, (_, position) => ({
            embeddings: [embedding(`${name}:${position}`), embedding(`both:${position % 10}`)],
            store
          }))
        const [first, second] = yield* writeAtOnce("index", dir, [inputsOf("a"), inputsOf("b")])
        expect([first!.length, second!.length]).toEqual([150, 150])
        expect((first as ReadonlyArray<ReadonlyArray<string>>)[3]).toEqual(["a:3", "both:3"])

        const vectors = openVectorStore(store)
        yield* Effect.addFinalizer(() => Effect.sync(() => vectors.close()))
        expect(vectors.count("chunks", 16)).toBe(150 + 150 + 10)
        for (const id of seeds.keys()) {
          const [nearest, next] = vectors.query({ collection: "chunks", vector: embedding(id).vector, k: 2 })
          expect(nearest!.chunkId).toBe(id)
          expect(nearest!.distance).toBeCloseTo(0, 6)
          expect(next!.distance).toBeGreaterThan(1e-3)
        }
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "two processes graphing different chunks into one new graph store at once write each shared node once",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir("stores")
        const store = join(dir, "graph.db")
        const { chunks, documents } = yield* sampleCorpus
        const { findings } = (yield* runStage(
          extract,
          { chunks, vocabulary: "examples/config/medical-vocabulary.yaml" },
          taskInfo()
        )) as unknown as { readonly findings: ReadonlyArray<unknown> }
        // Alternate chunks' findings, so both processes write entities and documents the other writes too.
        const inputsOf = (parity: number) =>
          findings.filter((_, position) => position % 2 === parity).map((finding) => ({ findings: [finding], store }))
        const outputs = (yield* writeAtOnce("knowledge-graph", dir, [inputsOf(0), inputsOf(1)])).flat() as ReadonlyArray<{
          readonly graph_nodes: ReadonlyArray<string>
          readonly graph_edges: ReadonlyArray<string>
        }>
        const nodes = outputs.flatMap((output) => output.graph_nodes)
        const edges = outputs.flatMap((output) => output.graph_edges)
        // The counts one call over the whole sample corpus reports, each row reported by exactly one call.
        expect([nodes.length, edges.length]).toEqual([63, 115])
        expect([new Set(nodes).size, new Set(edges).size]).toEqual([63, 115])

        const graph = openGraphStore(store)
        yield* Effect.addFinalizer(() => Effect.sync(() => graph.close()))
        expect(graph.counts()).toEqual({ nodes: 63, edges: 115 })
        expect(graph.node("Entity:drug:amoxicillin")?.properties).toEqual({ kind: "drug", name: "amoxicillin" })
        for (const document of documents) {
          expect(graph.node(`Document:${document.id}`)?.properties).toEqual({ title: document.title, source: document.source })
        }
      }).pipe(Effect.scoped),
    60_000
  )
})
