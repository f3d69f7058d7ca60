import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { extract } from "../../../plugins/core/extract.ts"
import { nodeId, openGraphStore } from "../../../plugins/core/internal/graphStore.ts"
import { KnowledgeGraphInputs, knowledgeGraph } from "../../../plugins/core/knowledgeGraph.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import { applyOutput } from "../../../services/scheduler/internal/applyOutput.ts"
import { onWire } from "./fixtures/support.ts"
import { countOutput } from "../../../schemas/Count.ts"
import { careChunks, respiratoryChunks } from "./fixtures-b/chunks.ts"
import { sampleCorpus } from "./fixtures-b/corpus.ts"
import { taskInfo, tempDir } from "./fixtures-b/support.ts"
import { batchesOf, sameWhenMapped } from "./fixtures/fanOut.ts"
import type { StageFailure } from "../../../sdk/defineStage.ts"
import { runStage } from "../../support/stages.ts"

/** What `extract` found in one chunk (only the fields these tests read). */
interface Finding {
  readonly chunk: { readonly id: string; readonly documentId: string; readonly text: string }
  readonly entities: ReadonlyArray<{ readonly id: string; readonly chunkId: string }>
  readonly claims: ReadonlyArray<{ readonly id: string; readonly subject: string; readonly object: string; readonly chunkId: string }>
}

interface Extracted {
  readonly entities: ReadonlyArray<{ readonly id: string; readonly chunkId: string }>
  readonly claims: ReadonlyArray<{ readonly id: string }>
  readonly findings: ReadonlyArray<Finding>
}

const vocabulary = "examples/config/medical-vocabulary.yaml"

/** What `extract` finds in `chunks`, as the run state would hold it. */
const extracted = (chunks: ReadonlyArray<unknown>) =>
  runStage(extract, { chunks, vocabulary }, taskInfo()).pipe(Effect.map((output) => output as unknown as Extracted))

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

/** What the store at `path` holds of the nodes `ids`: each node with its outgoing edges (every edge leaves some node). */
const contentsOf = (path: string, ids: ReadonlyArray<string>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => openGraphStore(path)),
    (graph) =>
      Effect.sync(() =>
        [...ids].sort().map((id) => ({
          node: graph.node(id),
          out: graph.neighbours(id, { direction: "out" }).map((next) => [next.edgeType, next.node.id, next.edgeProperties])
        }))
      ),
    (graph) => Effect.sync(() => graph.close())
  )

const failureOf = (exit: Exit.Exit<unknown, StageFailure>): StageFailure => {
  expect(Exit.isFailure(exit)).toBe(true)
  return (Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined) as StageFailure
}

const documents = [
  { id: "care", title: "Managing type 2 diabetes and hypertension in primary care", source: "fixtures-b/cardiometabolic-care.md" },
  { id: "respiratory", title: "Treating common respiratory and ear infections", source: "fixtures-b/respiratory-infections.md" }
]

/** Chunks of both fixture documents (which carry no document titles) with what `extract` finds in them. */
const corpus = Effect.gen(function* () {
  const chunks = [...careChunks(), ...respiratoryChunks()]
  return { chunks, ...(yield* extracted(chunks)) }
})

describe("core/core.knowledge-graph", () => {
  it.effect("declares its metadata: state key, set output, count of nodes written, after extract", () =>
    Effect.gen(function* () {
      const metadata = yield* Schema.decodeUnknownEffect(StageMetadata)(JSON.parse(JSON.stringify(knowledgeGraph.metadata)))
      expect(metadata).toMatchObject({
        type: "core/core.knowledge-graph",
        plugin: "core",
        version: "3.0.0",
        runtime: "inline",
        stateKey: ["graph_nodes", "graph_edges"],
        output: "unpack",
        count: "length(graph_nodes)",
        dependencies: ["core/core.extract"]
      })
      expect(Schema.decodeUnknownSync(KnowledgeGraphInputs)({ findings: [] })).toMatchObject({
        documents: [],
        store: ".switchyard/graph.db"
      })
    })
  )

  it.live("writes documents, chunks, entities and claims once; the same input again writes nothing", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("graph"), "graphs", "graph.db")
      const { chunks, claims, entities, findings } = yield* corpus
      const entityIds = new Set(entities.map((entity) => entity.id))
      const mentions = new Set(entities.map((entity) => `${entity.chunkId} ${entity.id}`))
      const nodes = documents.length + chunks.length + entityIds.size + claims.length
      const edges = chunks.length + mentions.size + 3 * claims.length

      const first = yield* write({ findings, documents, store })
      expect([first.graph_nodes.length, first.graph_edges.length]).toEqual([nodes, edges])
      expect(new Set(first.graph_nodes).size).toBe(nodes)
      expect(first.graph_nodes).toContain("Entity:drug:metformin")
      expect(first.graph_edges).toContain("Chunk:care:0 -[MENTIONS]-> Entity:drug:metformin")
      expect(yield* totalsOf(store)).toEqual({ nodes, edges })
      expect(countOutput(knowledgeGraph.metadata.count, first)).toBe(nodes)
      const applied = applyOutput(
        {},
        { stateKey: knowledgeGraph.metadata.stateKey, mode: knowledgeGraph.metadata.output, output: onWire(first) }
      )
      expect(applied._tag === "Applied" && [applied.state.graph_nodes, applied.state.graph_edges]).toEqual([
        first.graph_nodes,
        first.graph_edges
      ])

      const again = yield* write({ findings, documents, store })
      expect(again).toEqual({ graph_nodes: [], graph_edges: [] })
      expect(countOutput(knowledgeGraph.metadata.count, again)).toBe(0)
      // These chunks carry no titles and no documents are given: the Document nodes are only referenced, their titles stay.
      expect(yield* write({ findings, store })).toEqual({ graph_nodes: [], graph_edges: [] })

      const edited = findings.map((finding) =>
        finding.chunk.id === "care:1"
          ? { ...finding, chunk: { ...finding.chunk, text: `${finding.chunk.text} Review in three months.` } }
          : finding
      )
      expect(yield* write({ findings: edited, store })).toEqual({ graph_nodes: ["Chunk:care:1"], graph_edges: [] })
      expect(yield* totalsOf(store)).toEqual({ nodes, edges })
      // A batch writes its own chunks and what was found in them, nothing of other chunks.
      const elsewhere = join(yield* tempDir("graph"), "graph.db")
      const careOnly = yield* write({ findings: findings.filter((finding) => finding.chunk.documentId === "care"), store: elsewhere })
      expect(careOnly.graph_nodes.filter((id) => id.includes("respiratory"))).toEqual([])
      expect(careOnly.graph_edges.filter((id) => id.includes("respiratory"))).toEqual([])

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

  it.live("takes a Document node's title and source from its chunks, the given documents over them", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("graph")
      const { findings } = yield* corpus
      const titled = findings.map((finding) => ({
        ...finding,
        chunk: { ...finding.chunk, documentTitle: `Title of ${finding.chunk.documentId}`, documentSource: `${finding.chunk.documentId}.md` }
      }))
      const fromChunks = join(dir, "chunks.db")
      yield* write({ findings: titled, store: fromChunks })
      expect((yield* contentsOf(fromChunks, ["Document:care", "Document:respiratory"])).map(({ node }) => node?.properties)).toEqual([
        { title: "Title of care", source: "care.md" },
        { title: "Title of respiratory", source: "respiratory.md" }
      ])
      const overridden = join(dir, "documents.db")
      yield* write({ findings: titled, documents, store: overridden })
      expect((yield* contentsOf(overridden, ["Document:care", "Document:respiratory"])).map(({ node }) => node?.properties)).toEqual(
        documents.map(({ source, title }) => ({ title, source }))
      )
    }).pipe(Effect.scoped)
  )

  it.live("writes the entity a claim names in full when only another batch mentions it, in either order", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("graph")
      // The second "Lisinopril" (43..53) lies wholly in d:1's overlap, so d:0 reports it and d:1's claim names it unmentioned.
      const text = "Lisinopril is prescribed for hypertension. Lisinopril can cause angioedema."
      const chunks = [
        { id: "d:0", documentId: "d", index: 0, text: text.slice(0, 60), start: 0, end: 60, sectionPath: [], overlap: 0 },
        { id: "d:1", documentId: "d", index: 1, text: text.slice(30), start: 30, end: text.length, sectionPath: [], overlap: 30 }
      ]
      const { findings } = yield* extracted(chunks)
      const second = findings[1]!
      expect(second.claims.map((claim) => claim.subject)).toEqual(["drug:lisinopril"])
      expect(second.entities.map((entity) => entity.id)).not.toContain("drug:lisinopril")

      const alone = join(dir, "alone.db")
      const written = yield* write({ findings: [second], store: alone })
      expect(written.graph_nodes).toContain("Entity:drug:lisinopril")
      expect((yield* contentsOf(alone, ["Entity:drug:lisinopril"]))[0]!.node?.properties).toEqual({ kind: "drug", name: "lisinopril" })
      // The batch that mentions it then finds the node as it would have written it.
      expect((yield* write({ findings: [findings[0]!], store: alone })).graph_nodes).not.toContain("Entity:drug:lisinopril")

      for (const [name, batches] of [
        ["in-order", [[findings[0]!], [second]]],
        ["reversed", [[second], [findings[0]!]]]
      ] as const) {
        const { state } = yield* sameWhenMapped(knowledgeGraph, {
          whole: { findings, store: join(dir, `${name}-whole.db`) },
          batches: batches.map((batch) => ({ findings: batch, store: join(dir, `${name}-mapped.db`) })),
          unordered: true
        })
        const ids = state.graph_nodes as ReadonlyArray<string>
        expect(yield* contentsOf(join(dir, `${name}-mapped.db`), ids)).toEqual(yield* contentsOf(join(dir, `${name}-whole.db`), ids))
      }
    }).pipe(Effect.scoped)
  )

  it.live("refuses a finding whose entity or claim names another chunk, naming the field", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("graph"), "graph.db")
      const { findings } = yield* corpus
      const first = findings[0]!
      const moved = { ...first, entities: first.entities.map((entity, index) => (index === 1 ? { ...entity, chunkId: "care:9" } : entity)) }
      const failure = failureOf(yield* Effect.exit(write({ findings: [findings[1]!, moved], store })))
      expect([failure.tag, failure.retryable]).toEqual(["InvalidInputError", false])
      expect(failure.message).toContain("findings[1].entities[1].chunkId")
      expect(failure.message).toContain(`expected the finding's chunk id "care:0", found "care:9"`)
    }).pipe(Effect.scoped)
  )

  it.live("graphs the sample corpus with the documents' titles the chunks carry, idempotently", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("graph")
      const store = join(dir, "graph.db")
      const { chunks, documents } = yield* sampleCorpus
      const { findings } = yield* extracted(chunks)
      // The findings alone, as the example pipeline passes them.
      const first = yield* write({ findings, store })
      // The counts the example pipeline reports for the sample corpus.
      expect([first.graph_nodes.length, first.graph_edges.length]).toEqual([63, 115])
      expect(yield* totalsOf(store)).toEqual({ nodes: 63, edges: 115 })
      expect(yield* write({ findings, store })).toEqual({ graph_nodes: [], graph_edges: [] })
      // The parsed documents given too, as `{{ state.documents }}` would pass them, change nothing.
      expect(yield* write({ findings, documents, store })).toEqual({ graph_nodes: [], graph_edges: [] })
      const withDocuments = join(dir, "with-documents.db")
      const same = yield* write({ findings, documents, store: withDocuments })
      expect(yield* contentsOf(withDocuments, same.graph_nodes)).toEqual(yield* contentsOf(store, first.graph_nodes))

      const graph = openGraphStore(store)
      yield* Effect.addFinalizer(() => Effect.sync(() => graph.close()))
      for (const document of documents) {
        expect(graph.node(nodeId("Document", document.id))?.properties).toEqual({ title: document.title, source: document.source })
      }
      const pneumonia = documents.find((document) => document.title === "Community-Acquired Pneumonia in Adults")!
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

  it.live("writing the sample findings one by one or in fours, in order, reversed or all at once, writes each node and edge once", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("graph")
      const { chunks } = yield* sampleCorpus
      const { findings } = yield* extracted(chunks)
      let run = 0
      for (const [size, order] of [
        [1, "in order"],
        [4, "in order"],
        [1, "reversed"],
        [4, "reversed"],
        [1, "at once"],
        [4, "at once"]
      ] as const) {
        run += 1
        const whole = join(dir, `whole-${run}.db`)
        const mapped = join(dir, `mapped-${run}.db`)
        const batches = batchesOf(findings, size)
        const { state } = yield* sameWhenMapped(knowledgeGraph, {
          whole: { findings, store: whole },
          batches: (order === "reversed" ? batches.reverse() : batches).map((batch) => ({ findings: batch, store: mapped })),
          concurrent: order === "at once",
          // Batches written in another order, or at once, list what they wrote in another order.
          unordered: true
        })
        const nodes = state.graph_nodes as ReadonlyArray<string>
        expect([nodes.length, (state.graph_edges as ReadonlyArray<string>).length]).toEqual([63, 115])
        expect(yield* totalsOf(mapped)).toEqual(yield* totalsOf(whole))
        // The stores end the same, properties included.
        expect(yield* contentsOf(mapped, nodes)).toEqual(yield* contentsOf(whole, nodes))
      }
    }).pipe(Effect.scoped)
  )

  it.live("links what was written: neighbours of a document, an entity and a claim", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("graph"), "graph.db")
      const { claims, findings } = yield* corpus
      yield* runStage(knowledgeGraph, { findings, documents, store }, taskInfo())
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
