import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { extract } from "../../../plugins/core/extract.ts"
import { nodeId, openGraphStore } from "../../../plugins/core/internal/graphStore.ts"
import { KnowledgeGraphInputs, knowledgeGraph } from "../../../plugins/core/knowledgeGraph.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import { applyOutput } from "../../../services/scheduler/internal/applyOutput.ts"
import { countOutput } from "../../../schemas/Count.ts"
import { careChunks, respiratoryChunks } from "./fixtures-b/chunks.ts"
import { sampleCorpus } from "./fixtures-b/corpus.ts"
import { taskInfo, tempDir } from "./fixtures-b/support.ts"
import { batchesOf, sameWhenMapped } from "./fixtures/fanOut.ts"
import { runStage } from "../../support/stages.ts"

interface Extracted {
  readonly entities: ReadonlyArray<{ readonly id: string; readonly chunkId: string }>
  readonly claims: ReadonlyArray<{ readonly id: string }>
}

/** What `knowledge-graph` returns: the ids it inserted or changed. */
interface Written {
  readonly graph_nodes: ReadonlyArray<string>
  readonly graph_edges: ReadonlyArray<string>
}

const write = (input: Record<string, unknown>) =>
  runStage(knowledgeGraph, input, taskInfo()).pipe(Effect.map((output) => output as unknown as Written))

/** How many nodes and edges the store at `path` holds. */
const totalsOf = (path: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => openGraphStore(path)),
    (graph) => Effect.sync(() => graph.counts()),
    (graph) => Effect.sync(() => graph.close())
  )

const documents = [
  { id: "care", title: "Managing type 2 diabetes and hypertension in primary care", source: "fixtures-b/cardiometabolic-care.md" },
  { id: "respiratory", title: "Treating common respiratory and ear infections", source: "fixtures-b/respiratory-infections.md" }
]

/** Chunks of both fixture documents with what `extract` finds in them, as the run state would hold them. */
const corpus = Effect.gen(function* () {
  const chunks = [...careChunks(), ...respiratoryChunks()]
  const extracted = (yield* runStage(
    extract,
    { chunks, vocabulary: "examples/config/medical-vocabulary.yaml" },
    taskInfo()
  )) as unknown as Extracted
  return { chunks, entities: extracted.entities, claims: extracted.claims }
})

describe("core/core.knowledge-graph", () => {
  it.effect("declares its metadata: state key, set output, count of nodes written, after extract", () =>
    Effect.gen(function* () {
      const metadata = yield* Schema.decodeUnknownEffect(StageMetadata)(JSON.parse(JSON.stringify(knowledgeGraph.metadata)))
      expect(metadata).toMatchObject({
        type: "core/core.knowledge-graph",
        plugin: "core",
        version: "2.0.0",
        runtime: "inline",
        stateKey: ["graph_nodes", "graph_edges"],
        output: "unpack",
        count: "length(graph_nodes)",
        dependencies: ["core/core.extract"]
      })
      expect(Schema.decodeUnknownSync(KnowledgeGraphInputs)({ chunks: [], entities: [], claims: [] })).toMatchObject({
        documents: [],
        store: ".switchyard/graph.db"
      })
    })
  )

  it.live("writes documents, chunks, entities and claims once; the same input again writes nothing", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("graph"), "graphs", "graph.db")
      const { chunks, claims, entities } = yield* corpus
      const entityIds = new Set(entities.map((entity) => entity.id))
      const mentions = new Set(entities.map((entity) => `${entity.chunkId} ${entity.id}`))
      const nodes = documents.length + chunks.length + entityIds.size + claims.length
      const edges = chunks.length + mentions.size + 3 * claims.length

      const first = yield* write({ chunks, entities, claims, documents, store })
      expect([first.graph_nodes.length, first.graph_edges.length]).toEqual([nodes, edges])
      expect(new Set(first.graph_nodes).size).toBe(nodes)
      expect(first.graph_nodes).toContain("Entity:drug:metformin")
      expect(first.graph_edges).toContain("Chunk:care:0 -[MENTIONS]-> Entity:drug:metformin")
      expect(yield* totalsOf(store)).toEqual({ nodes, edges })
      expect(countOutput(knowledgeGraph.metadata.count, first)).toBe(nodes)
      const applied = applyOutput({}, { stateKey: knowledgeGraph.metadata.stateKey, mode: knowledgeGraph.metadata.output, output: first })
      expect(applied._tag === "Applied" && [applied.state.graph_nodes, applied.state.graph_edges]).toEqual([
        first.graph_nodes,
        first.graph_edges
      ])

      const again = yield* write({ chunks, entities, claims, documents, store })
      expect(again).toEqual({ graph_nodes: [], graph_edges: [] })
      expect(countOutput(knowledgeGraph.metadata.count, again)).toBe(0)
      // Without documents the Document nodes are only referenced: their titles stay.
      expect(yield* write({ chunks, entities, claims, store })).toEqual({ graph_nodes: [], graph_edges: [] })

      const edited = chunks.map((chunk) => (chunk.id === "care:1" ? { ...chunk, text: `${chunk.text} Review in three months.` } : chunk))
      expect(yield* write({ chunks: edited, entities, claims, store })).toEqual({ graph_nodes: ["Chunk:care:1"], graph_edges: [] })
      expect(yield* totalsOf(store)).toEqual({ nodes, edges })
      // Entities and claims of chunks not given are left to the call that gets those chunks.
      const elsewhere = join(yield* tempDir("graph"), "graph.db")
      const careOnly = yield* write({ chunks: chunks.filter((chunk) => chunk.documentId === "care"), entities, claims, store: elsewhere })
      expect(careOnly.graph_nodes.filter((id) => id.startsWith("Chunk:respiratory"))).toEqual([])
      expect(careOnly.graph_edges.filter((id) => id.includes("Chunk:respiratory"))).toEqual([])

      const graph = openGraphStore(store)
      yield* Effect.addFinalizer(() => Effect.sync(() => graph.close()))
      expect(graph.node(nodeId("Document", "care"))).toEqual({
        id: "Document:care",
        label: "Document",
        properties: { title: documents[0]!.title, source: documents[0]!.source }
      })
      expect(graph.node(nodeId("Chunk", "care:1"))?.properties.text).toMatch(/Review in three months\.$/)
    }).pipe(Effect.scoped)
  )

  it.live("graphs the sample corpus with the parsed documents' titles, idempotently", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("graph"), "graph.db")
      const { chunks, documents } = yield* sampleCorpus
      const { claims, entities } = (yield* runStage(
        extract,
        { chunks, vocabulary: "examples/config/medical-vocabulary.yaml" },
        taskInfo()
      )) as unknown as Extracted
      // The parsed documents go in whole, as `{{ state.documents }}` would pass them.
      const first = yield* write({ chunks, entities, claims, documents, store })
      // The counts the example pipeline reports for the sample corpus.
      expect([first.graph_nodes.length, first.graph_edges.length]).toEqual([63, 115])
      expect(yield* totalsOf(store)).toEqual({ nodes: 63, edges: 115 })
      expect(yield* write({ chunks, entities, claims, documents, store })).toEqual({ graph_nodes: [], graph_edges: [] })

      const graph = openGraphStore(store)
      yield* Effect.addFinalizer(() => Effect.sync(() => graph.close()))
      const pneumonia = documents.find((document) => document.title === "Community-Acquired Pneumonia in Adults")!
      expect(graph.node(nodeId("Document", pneumonia.id))?.properties).toEqual({ title: pneumonia.title, source: pneumonia.source })
      const amoxicillinChunks = graph
        .neighbours("Entity:drug:amoxicillin", { type: "MENTIONS" })
        .map((next) => next.node.properties.documentId)
      expect(amoxicillinChunks).toContain(pneumonia.id)
      const treats = graph
        .neighbours("Entity:condition:pneumonia", { type: "OBJECT" })
        .filter((next) => next.node.properties.predicate === "treats")
        .map((next) => next.node.properties.subject)
      expect(new Set(treats)).toEqual(new Set(["drug:amoxicillin"]))
    }).pipe(Effect.scoped)
  )

  it.live("writing the sample chunks one by one or in fours, in order or all at once, writes each node and edge once", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("graph")
      const { chunks, documents } = yield* sampleCorpus
      const { claims, entities } = (yield* runStage(
        extract,
        { chunks, vocabulary: "examples/config/medical-vocabulary.yaml" },
        taskInfo()
      )) as unknown as Extracted
      let run = 0
      for (const [size, concurrent] of [
        [1, false],
        [4, false],
        [1, true],
        [4, true]
      ] as const) {
        run += 1
        const whole = join(dir, `whole-${run}.db`)
        const mapped = join(dir, `mapped-${run}.db`)
        const { count, state } = yield* sameWhenMapped(knowledgeGraph, {
          whole: { chunks, entities, claims, documents, store: whole },
          batches: batchesOf(chunks, size).map((batch) => ({ chunks: batch, entities, claims, documents, store: mapped })),
          concurrent,
          // Batches written in another order, or at once, list what they wrote in another order.
          unordered: true
        })
        expect([count, (state.graph_edges as ReadonlyArray<string>).length]).toEqual([63, 115])
        expect(yield* totalsOf(mapped)).toEqual(yield* totalsOf(whole))
      }
    }).pipe(Effect.scoped)
  )

  it.live("links what was written: neighbours of a document, an entity and a claim", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("graph"), "graph.db")
      const { chunks, claims, entities } = yield* corpus
      yield* runStage(knowledgeGraph, { chunks, entities, claims, documents, store }, taskInfo())
      const graph = openGraphStore(store)
      yield* Effect.addFinalizer(() => Effect.sync(() => graph.close()))

      expect(graph.neighbours("Document:care", { type: "HAS_CHUNK" }).map((next) => [next.direction, next.node.id])).toEqual([
        ["out", "Chunk:care:0"],
        ["out", "Chunk:care:1"],
        ["out", "Chunk:care:2"],
        ["out", "Chunk:care:3"]
      ])
      // Ibuprofen is one entity mentioned by both documents.
      const ibuprofen = nodeId("Entity", "drug:ibuprofen")
      expect(graph.node(ibuprofen)).toEqual({ id: ibuprofen, label: "Entity", properties: { kind: "drug", name: "ibuprofen" } })
      expect(graph.neighbours(ibuprofen, { type: "MENTIONS", direction: "in" }).map((next) => [next.node.id, next.edgeProperties])).toEqual(
        [
          ["Chunk:care:3", { count: 1 }],
          ["Chunk:respiratory:2", { count: 1 }]
        ]
      )
      const asSubject = graph.neighbours(ibuprofen, { type: "SUBJECT" }).map((next) => next.node.properties.predicate)
      expect(asSubject.sort()).toEqual(["causes", "has_dose", "treats", "treats", "treats", "treats"])
      expect(graph.neighbours(ibuprofen, { direction: "out" })).toEqual([])

      const claim = `Claim:${claims[0]!.id}`
      expect(graph.neighbours(claim).map((next) => [next.edgeType, next.direction, next.node.id])).toEqual([
        ["FROM", "out", "Chunk:care:0"],
        ["OBJECT", "out", "Entity:condition:type 2 diabetes"],
        ["SUBJECT", "out", "Entity:drug:metformin"]
      ])
      expect(graph.neighbours("Entity:condition:type 2 diabetes", { type: "MENTIONS" }).map((next) => next.node.id)).toEqual([
        "Chunk:care:0",
        "Chunk:care:1"
      ])
    }).pipe(Effect.scoped)
  )
})
