/**
 * `core/core.knowledge-graph`: writes documents, chunks, entities and claims
 * into the embedded graph store as nodes (`Document`, `Chunk`, `Entity`,
 * `Claim`) and edges (`HAS_CHUNK`, `MENTIONS`, `SUBJECT`, `OBJECT`, `FROM`),
 * with idempotent upserts, and sets a receipt in `graph_receipt` counting
 * the rows that really changed.
 */
import { resolve } from "node:path"
import { Effect, Schema } from "effect"
import { defineStage, StageError } from "@switchyard/sdk"
import { Chunk } from "@switchyard/schemas/DocumentIR"
import { Claim, Entity } from "./internal/entities.ts"
import type { GraphEdge, GraphNode } from "./internal/graphStore.ts"
import { nodeId, openGraphStore } from "./internal/graphStore.ts"

/** A document's id with what is known of it. */
export const DocumentRef = Schema.Struct({
  id: Schema.String,
  title: Schema.optionalKey(Schema.String),
  source: Schema.optionalKey(Schema.String)
})

/** The inputs of `core/core.knowledge-graph`. */
export const KnowledgeGraphInputs = Schema.Struct({
  chunks: Schema.Array(Chunk).annotate({ description: "The chunks core.chunk produced." }),
  entities: Schema.Array(Entity).annotate({ description: "The entities core.extract produced." }),
  claims: Schema.Array(Claim).annotate({ description: "The claims core.extract produced." }),
  /** Titles and sources for the Document nodes; documents named only by chunks get a bare node. @default [] */
  documents: Schema.Array(DocumentRef)
    .annotate({ description: "Documents ({ id, title?, source? }, or parsed documents) for the Document nodes.", default: [] })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
  /** Path of the graph store file, relative to the working directory. @default ".switchyard/graph.db" */
  store: Schema.String.pipe(Schema.check(Schema.isNonEmpty()))
    .annotate({ description: "Path of the SQLite graph store, relative to the working directory.", default: ".switchyard/graph.db" })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed(".switchyard/graph.db")))
})

/** What `knowledge-graph` reports. */
export const GraphReceipt = Schema.Struct({
  /** Absolute path of the store file. */
  store: Schema.String,
  /** Nodes inserted or changed by this write. */
  nodes_written: Schema.Int,
  /** Edges inserted or changed by this write. */
  edges_written: Schema.Int,
  nodes_total: Schema.Int,
  edges_total: Schema.Int
})

type Inputs = typeof KnowledgeGraphInputs.Type

/** The nodes and edges for the inputs, each once. */
const graphOf = (input: Pick<Inputs, "chunks" | "entities" | "claims" | "documents">) => {
  const nodes = new Map<string, GraphNode>()
  const edges = new Map<string, GraphEdge>()
  const addNode = (label: string, id: string, properties: Record<string, unknown>) => {
    const key = nodeId(label, id)
    nodes.set(key, { id: key, label, properties: { ...nodes.get(key)?.properties, ...properties } })
    return key
  }
  const addEdge = (source: string, type: string, target: string, properties: Record<string, unknown> = {}) =>
    edges.set(`${source}\u0000${type}\u0000${target}`, { source, target, type, properties })

  for (const document of input.documents) {
    addNode("Document", document.id, {
      ...(document.title === undefined ? {} : { title: document.title }),
      ...(document.source === undefined ? {} : { source: document.source })
    })
  }
  for (const chunk of input.chunks) {
    const document = addNode("Document", chunk.documentId, {})
    const node = addNode("Chunk", chunk.id, {
      documentId: chunk.documentId,
      index: chunk.index,
      text: chunk.text,
      start: chunk.start,
      end: chunk.end,
      sectionPath: chunk.sectionPath
    })
    addEdge(document, "HAS_CHUNK", node)
  }
  const mentions = new Map<string, number>()
  for (const entity of input.entities) {
    const node = addNode("Entity", entity.id, { kind: entity.kind, name: entity.name })
    // A chunk the inputs do not describe still gets a (bare) node, so no edge dangles.
    const chunk = addNode("Chunk", entity.chunkId, {})
    const key = `${chunk}\u0000${node}`
    mentions.set(key, (mentions.get(key) ?? 0) + 1)
    addEdge(chunk, "MENTIONS", node, { count: mentions.get(key) })
  }
  for (const claim of input.claims) {
    const node = addNode("Claim", claim.id, {
      predicate: claim.predicate,
      subject: claim.subject,
      object: claim.object,
      text: claim.text,
      chunkId: claim.chunkId,
      start: claim.start,
      end: claim.end
    })
    addEdge(node, "SUBJECT", addNode("Entity", claim.subject, {}))
    addEdge(node, "OBJECT", addNode("Entity", claim.object, {}))
    addEdge(node, "FROM", addNode("Chunk", claim.chunkId, {}))
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] }
}

/** `{ chunks, entities, claims, documents?, store }` → `{ store, nodes_written, edges_written, nodes_total, edges_total }`. */
export const knowledgeGraph = defineStage({
  type: "core/core.knowledge-graph",
  version: "1.0.0",
  description: "Writes documents, chunks, entities and claims into an embedded SQLite graph store with idempotent upserts.",
  plugin: "core",
  stateKey: "graph_receipt",
  output: "set",
  count: "field(nodes_written)",
  dependencies: ["core/core.extract"],
  timeout: 120_000,
  inputs: KnowledgeGraphInputs,
  outputs: GraphReceipt,
  run: (input) =>
    Effect.acquireUseRelease(
      Effect.try({
        try: () => openGraphStore(resolve(input.store)),
        catch: (error) =>
          new StageError({
            message: `core/core.knowledge-graph: cannot open the graph store ${resolve(input.store)}: ${error instanceof Error ? error.message : String(error)}`
          })
      }),
      (graph) =>
        Effect.try({
          try: () => {
            const written = graph.write(graphOf(input))
            const totals = graph.counts()
            return {
              store: graph.path,
              nodes_written: written.nodesWritten,
              edges_written: written.edgesWritten,
              nodes_total: totals.nodes,
              edges_total: totals.edges
            }
          },
          catch: (error) =>
            new StageError({
              message: `core/core.knowledge-graph: writing to ${graph.path} failed: ${error instanceof Error ? error.message : String(error)}`
            })
        }),
      (graph) => Effect.sync(() => graph.close())
    )
})
