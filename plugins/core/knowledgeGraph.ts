/**
 * `core/core.knowledge-graph`: writes documents, chunks, entities and claims
 * into the embedded graph store as nodes (`Document`, `Chunk`, `Entity`,
 * `Claim`) and edges (`HAS_CHUNK`, `MENTIONS`, `SUBJECT`, `OBJECT`, `FROM`),
 * with idempotent upserts in one transaction per call, and unpacks the ids
 * of the nodes and edges it inserted or changed into `graph_nodes` and
 * `graph_edges`.
 *
 * The chunk is the unit of work: a call writes the given chunks, their
 * documents, and the entities and claims found in them (those of other
 * chunks are left to the call that gets those chunks), plus a node for every
 * given document. Every row a call writes is then described in full by that
 * call, so however the chunks are split into batches, written one after
 * another or at once by several processes, each row is inserted once and
 * reported by the one call that inserted it: the concatenated ids equal
 * those of one call over everything. Map it over `chunks`, passing the
 * entities, claims and documents whole.
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
  chunks: Schema.Array(Chunk).annotate({ description: "The chunks to write (all of them, or a batch) with what was found in them." }),
  entities: Schema.Array(Entity).annotate({
    description: "The entities core.extract produced; those found in the given chunks are written."
  }),
  claims: Schema.Array(Claim).annotate({ description: "The claims core.extract produced; those found in the given chunks are written." }),
  /** Titles and sources for the Document nodes; documents named only by chunks get a bare node. @default [] */
  documents: Schema.Array(DocumentRef)
    .annotate({ description: "Documents ({ id, title?, source? }, or parsed documents) for the Document nodes.", default: [] })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
  /** Path of the graph store file, relative to the working directory. @default ".switchyard/graph.db" */
  store: Schema.String.pipe(Schema.check(Schema.isNonEmpty()))
    .annotate({ description: "Path of the SQLite graph store, relative to the working directory.", default: ".switchyard/graph.db" })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed(".switchyard/graph.db")))
})

/** What `knowledge-graph` returns; unpacked into the `graph_nodes` and `graph_edges` slots. */
export const GraphWritten = Schema.Struct({
  /** Ids of the nodes this call inserted or changed, such as `Entity:drug:metformin`. */
  graph_nodes: Schema.Array(Schema.String),
  /** Ids of the edges this call inserted or changed: `<source> -[<type>]-> <target>`. */
  graph_edges: Schema.Array(Schema.String)
})

type Inputs = typeof KnowledgeGraphInputs.Type

/** The nodes and edges for the inputs, each once: the given documents, and the given chunks with what was found in them. */
const graphOf = (input: Pick<Inputs, "chunks" | "entities" | "claims" | "documents">) => {
  const given = new Set(input.chunks.map((chunk) => chunk.id))
  // A claim's entity may be mentioned only in another chunk (or batch): it is still written in full, so every
  // write of a node says the same and no batch order can make a node count twice (inserted bare, then changed).
  const known = new Map(input.entities.map((entity) => [entity.id, { kind: entity.kind, name: entity.name }]))
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
    if (!given.has(entity.chunkId)) continue
    const node = addNode("Entity", entity.id, { kind: entity.kind, name: entity.name })
    const chunk = nodeId("Chunk", entity.chunkId)
    const key = `${chunk}\u0000${node}`
    mentions.set(key, (mentions.get(key) ?? 0) + 1)
    addEdge(chunk, "MENTIONS", node, { count: mentions.get(key) })
  }
  for (const claim of input.claims) {
    if (!given.has(claim.chunkId)) continue
    const node = addNode("Claim", claim.id, {
      predicate: claim.predicate,
      subject: claim.subject,
      object: claim.object,
      text: claim.text,
      chunkId: claim.chunkId,
      start: claim.start,
      end: claim.end
    })
    addEdge(node, "SUBJECT", addNode("Entity", claim.subject, known.get(claim.subject) ?? {}))
    addEdge(node, "OBJECT", addNode("Entity", claim.object, known.get(claim.object) ?? {}))
    addEdge(node, "FROM", nodeId("Chunk", claim.chunkId))
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] }
}

/** `{ chunks, entities, claims, documents?, store }` → `{ graph_nodes, graph_edges }`: the ids this call inserted or changed. */
export const knowledgeGraph = defineStage({
  type: "core/core.knowledge-graph",
  version: "2.0.0",
  description:
    "Writes documents, chunks and the entities and claims found in those chunks into an embedded SQLite graph store with idempotent upserts; returns the ids of the nodes and edges it wrote.",
  plugin: "core",
  stateKey: ["graph_nodes", "graph_edges"],
  output: "unpack",
  count: "length(graph_nodes)",
  dependencies: ["core/core.extract"],
  timeout: 120_000,
  inputs: KnowledgeGraphInputs,
  outputs: GraphWritten,
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
            return { graph_nodes: written.nodes, graph_edges: written.edges }
          },
          catch: (error) =>
            new StageError({
              message: `core/core.knowledge-graph: writing to ${graph.path} failed: ${error instanceof Error ? error.message : String(error)}`
            })
        }),
      (graph) => Effect.sync(() => graph.close())
    )
})
