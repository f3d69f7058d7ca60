/**
 * The embedded graph store: two SQLite tables in Node's built-in
 * `node:sqlite`, `nodes (id, label, properties)` and `edges (source, target,
 * type, properties)` keyed by `(source, target, type)`, properties as JSON.
 * Writes are idempotent upserts: properties are merged into the stored ones
 * (a key a write leaves out keeps its value, so a bare reference to a node
 * never erases what a fuller write stored), and a row is touched only when
 * it is new or the merge changes it, so the counts returned are the rows that
 * really changed; writing the same graph twice writes nothing the second time.
 * Several processes may write one file at once (see `sqliteFile.ts`): each
 * `write` is one transaction, so concurrent writes of overlapping graphs
 * (the same entity from two batches) insert each row once, and only the
 * write that inserted or changed a row reports it.
 */
import { ensureSchema, openSharedSqlite, writeTransaction } from "./sqliteFile.ts"

/** A node to write or read. */
export interface GraphNode {
  readonly id: string
  readonly label: string
  readonly properties: Readonly<Record<string, unknown>>
}

/** An edge to write, from `source` to `target`. */
export interface GraphEdge {
  readonly source: string
  readonly target: string
  readonly type: string
  readonly properties?: Readonly<Record<string, unknown>>
}

/** A node next to another, with the edge between them. */
export interface GraphNeighbour {
  readonly node: GraphNode
  readonly edgeType: string
  /** `out` when the edge goes from the queried node to this one. */
  readonly direction: "out" | "in"
  readonly edgeProperties: Readonly<Record<string, unknown>>
}

/** An open graph store; `close` it when done. */
export interface GraphStore {
  readonly path: string
  /** Upserts nodes then edges in one transaction; returns the ids of the nodes and edges (see `edgeId`) it inserted or changed. */
  readonly write: (graph: { readonly nodes: ReadonlyArray<GraphNode>; readonly edges: ReadonlyArray<GraphEdge> }) => {
    readonly nodes: Array<string>
    readonly edges: Array<string>
  }
  readonly counts: () => { readonly nodes: number; readonly edges: number }
  readonly node: (id: string) => GraphNode | undefined
  /** Nodes linked to `id`, optionally by one edge type and direction, ordered by edge type then id. */
  readonly neighbours: (
    id: string,
    options?: { readonly type?: string; readonly direction?: "out" | "in" | "both" }
  ) => Array<GraphNeighbour>
  readonly close: () => void
}

/** The node id of a document, chunk, entity or claim: the label keeps ids of different kinds apart. */
export const nodeId = (label: string, id: string): string => `${label}:${id}`

/** The id an edge is reported by: `<source> -[<type>]-> <target>`. */
export const edgeId = (edge: Pick<GraphEdge, "source" | "type" | "target">): string => `${edge.source} -[${edge.type}]-> ${edge.target}`

const parse = (json: unknown): Record<string, unknown> => JSON.parse(String(json)) as Record<string, unknown>

/** Opens (creating when needed) the store at `path`. */
export const openGraphStore = (path: string): GraphStore => {
  const db = openSharedSqlite(path)
  try {
    ensureSchema(
      db,
      `CREATE TABLE IF NOT EXISTS nodes (id TEXT PRIMARY KEY, label TEXT NOT NULL, properties TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS edges (
        source TEXT NOT NULL, target TEXT NOT NULL, type TEXT NOT NULL, properties TEXT NOT NULL,
        PRIMARY KEY (source, target, type)
      );
      CREATE INDEX IF NOT EXISTS edges_by_target ON edges (target, type);`
    )
  } catch (error) {
    db.close()
    throw error
  }
  // Properties are stored as SQLite's minified JSON so a merge that adds nothing compares equal, and the
  // WHERE clause makes an unchanged row a no-op: `changes` counts only real writes.
  const upsertNode = db.prepare(`
    INSERT INTO nodes (id, label, properties) VALUES (?, ?, json(?))
    ON CONFLICT (id) DO UPDATE SET label = excluded.label, properties = json_patch(nodes.properties, excluded.properties)
    WHERE nodes.label IS NOT excluded.label OR json_patch(nodes.properties, excluded.properties) IS NOT nodes.properties`)
  const upsertEdge = db.prepare(`
    INSERT INTO edges (source, target, type, properties) VALUES (?, ?, ?, json(?))
    ON CONFLICT (source, target, type) DO UPDATE SET properties = json_patch(edges.properties, excluded.properties)
    WHERE json_patch(edges.properties, excluded.properties) IS NOT edges.properties`)
  const selectNode = db.prepare("SELECT id, label, properties FROM nodes WHERE id = ?")
  const selectNeighbours = db.prepare(`
    SELECT e.type AS type, e.properties AS edge, 'out' AS direction, n.id AS id, n.label AS label, n.properties AS properties
      FROM edges e JOIN nodes n ON n.id = e.target WHERE e.source = ?1 AND (?2 IS NULL OR e.type = ?2) AND ?3 IN ('out', 'both')
    UNION ALL
    SELECT e.type, e.properties, 'in', n.id, n.label, n.properties
      FROM edges e JOIN nodes n ON n.id = e.source WHERE e.target = ?1 AND (?2 IS NULL OR e.type = ?2) AND ?3 IN ('in', 'both')
    ORDER BY type, id`)

  return {
    path,
    write: ({ edges, nodes }) =>
      writeTransaction(db, () => ({
        nodes: nodes
          .filter((node) => Number(upsertNode.run(node.id, node.label, JSON.stringify(node.properties)).changes) > 0)
          .map((node) => node.id),
        edges: edges
          .filter((edge) => Number(upsertEdge.run(edge.source, edge.target, edge.type, JSON.stringify(edge.properties ?? {})).changes) > 0)
          .map(edgeId)
      })),
    counts: () => ({
      nodes: Number(db.prepare("SELECT count(*) AS n FROM nodes").get()?.n ?? 0),
      edges: Number(db.prepare("SELECT count(*) AS n FROM edges").get()?.n ?? 0)
    }),
    node: (id) => {
      const row = selectNode.get(id)
      return row === undefined ? undefined : { id: String(row.id), label: String(row.label), properties: parse(row.properties) }
    },
    neighbours: (id, options = {}) =>
      selectNeighbours.all(id, options.type ?? null, options.direction ?? "both").map((row) => ({
        node: { id: String(row.id), label: String(row.label), properties: parse(row.properties) },
        edgeType: String(row.type),
        direction: row.direction === "out" ? "out" : "in",
        edgeProperties: parse(row.edge)
      })),
    close: () => db.close()
  }
}
