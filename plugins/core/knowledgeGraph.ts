/**
 * `core/core.knowledge-graph`: writes what `extract` found, chunk by chunk
 * (its `findings`: each chunk with the entities and claims found in it),
 * into the embedded graph store as nodes (`Document`, `Chunk`, `Entity`,
 * `Claim`) and edges (`HAS_CHUNK`, `MENTIONS`, `SUBJECT`, `OBJECT`, `FROM`),
 * with idempotent upserts in one transaction per call, and unpacks the ids
 * of the nodes and edges it inserted or changed into `graph_nodes` and
 * `graph_edges`.
 *
 * The finding is the unit of work: a call writes each given finding's chunk,
 * its document, the entities it mentions and the claims it states, plus a
 * node for every given document. Every row a call writes is described in
 * full by that call: a Document node's title and source come from its
 * chunks (which carry them) or the given documents, an Entity node's kind
 * and name from its id (`drug:metformin`), so a claim naming an entity
 * mentioned only in another batch writes the node just as that batch does.
 * So however the findings are split into batches, written one after another
 * or at once by several processes, each row is inserted once and reported by
 * the one call that inserted it: the concatenated ids equal those of one
 * call over everything, and no call needs the whole corpus. Map it over
 * `findings`.
 */
import { resolve } from "node:path"
import { Effect, Schema } from "effect"
import { defineStage, StageError } from "@switchyard/sdk"
import type { Entity } from "./internal/entities.ts"
import { entityOfId, Finding } from "./internal/entities.ts"
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
  findings: Schema.Array(Finding).annotate({
    description: "What core.extract found, chunk by chunk (all of it, or a batch): each chunk with its entities and claims."
  }),
  /** Titles and sources for Document nodes, over those the chunks carry; documents named by no chunk get a node too. @default [] */
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

/** A Document node's properties: those known of it, none made up. */
const documentProperties = (title: string | undefined, source: string | undefined): Record<string, unknown> => ({
  ...(title === undefined ? {} : { title }),
  ...(source === undefined ? {} : { source })
})

/** The nodes and edges for the inputs, each once: the given documents, and the given findings' chunks with what was found in them. */
const graphOf = (input: Pick<Inputs, "findings" | "documents">) => {
  const nodes = new Map<string, GraphNode>()
  const edges = new Map<string, GraphEdge>()
  const addNode = (label: string, id: string, properties: Record<string, unknown>) => {
    const key = nodeId(label, id)
    nodes.set(key, { id: key, label, properties: { ...nodes.get(key)?.properties, ...properties } })
    return key
  }
  const addEdge = (source: string, type: string, target: string, properties: Record<string, unknown> = {}) =>
    edges.set(`${source}\u0000${type}\u0000${target}`, { source, target, type, properties })

  // An entity's kind and name come from its id, the same in every batch, so a claim naming an entity mentioned
  // only in another chunk (or batch) writes the node as that chunk does and no batch order counts it twice.
  // An id of another form than extract's falls back to a mention of it in the same chunk.
  const addEntity = (id: string, mention?: Entity) =>
    addNode("Entity", id, entityOfId(id) ?? (mention === undefined ? {} : { kind: mention.kind, name: mention.name }))
  // The given documents say what a document is over what its chunks say.
  const given = new Map(input.documents.map((document) => [document.id, documentProperties(document.title, document.source)]))
  for (const [id, properties] of given) addNode("Document", id, properties)
  const mentions = new Map<string, number>()
  for (const { chunk, claims, entities } of input.findings) {
    const document = addNode("Document", chunk.documentId, {
      ...documentProperties(chunk.documentTitle, chunk.documentSource),
      ...given.get(chunk.documentId)
    })
    const node = addNode("Chunk", chunk.id, {
      documentId: chunk.documentId,
      index: chunk.index,
      text: chunk.text,
      start: chunk.start,
      end: chunk.end,
      sectionPath: chunk.sectionPath
    })
    addEdge(document, "HAS_CHUNK", node)
    for (const entity of entities) {
      const target = addEntity(entity.id, entity)
      const key = `${node}\u0000${target}`
      mentions.set(key, (mentions.get(key) ?? 0) + 1)
      addEdge(node, "MENTIONS", target, { count: mentions.get(key) })
    }
    const mentioned = new Map(entities.map((entity) => [entity.id, entity]))
    for (const claim of claims) {
      const statement = addNode("Claim", claim.id, {
        predicate: claim.predicate,
        subject: claim.subject,
        object: claim.object,
        text: claim.text,
        chunkId: claim.chunkId,
        start: claim.start,
        end: claim.end
      })
      addEdge(statement, "SUBJECT", addEntity(claim.subject, mentioned.get(claim.subject)))
      addEdge(statement, "OBJECT", addEntity(claim.object, mentioned.get(claim.object)))
      addEdge(statement, "FROM", node)
    }
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] }
}

/** `{ findings, documents?, store }` → `{ graph_nodes, graph_edges }`: the ids this call inserted or changed. */
export const knowledgeGraph = defineStage({
  type: "core/core.knowledge-graph",
  version: "3.0.0",
  description:
    "Writes extract's findings (chunks, their documents, and the entities and claims found in them) into an embedded SQLite graph store with idempotent upserts; returns the ids of the nodes and edges it wrote.",
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
