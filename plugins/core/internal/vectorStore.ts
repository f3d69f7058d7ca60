/**
 * The on-disk vector store: SQLite (Node's built-in `node:sqlite`) with the
 * `sqlite-vec` extension. Each collection and dimension gets its own `vec0`
 * virtual table (`vec_<collection>_<dimensions>`, cosine distance) keyed by
 * chunk id; a `collections` table records which provider and model filled it,
 * so vectors from different embedders are never mixed in one table. Writes
 * are upserts by chunk id, so indexing the same chunks again replaces their
 * vectors instead of adding rows. Several processes may write one file at
 * once (see `sqliteFile.ts`): each `upsert` is one transaction, tables
 * included, so a batch lands whole or not at all.
 */
import type { StatementSync } from "node:sqlite"
import { Schema } from "effect"
import * as sqliteVec from "sqlite-vec"
import type { ChunkEmbedding } from "./embedding/chunkEmbedding.ts"
import { ensureSchema, openSharedSqlite, writeTransaction } from "./sqliteFile.ts"

/** A collection name: it becomes part of a table name. */
export const collectionPattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/** Who made a collection's vectors. */
export interface CollectionOrigin {
  readonly provider: string
  readonly model: string
}

/** A neighbour found by `query`: its chunk id and cosine distance (0 is identical). */
export interface Neighbour {
  readonly chunkId: string
  readonly distance: number
}

/** An open store; `close` it when done. */
export interface VectorStore {
  readonly path: string
  /**
   * Upserts `embeddings` into `collection` (each into the table of its vector's length) in one transaction;
   * returns the ids of the chunks written, in order.
   */
  readonly upsert: (options: { readonly collection: string; readonly embeddings: ReadonlyArray<ChunkEmbedding> }) => Array<string>
  /** Number of vectors in a collection (of one dimension, or of all). */
  readonly count: (collection: string, dimensions?: number) => number
  /** The `k` chunks nearest to `vector` by cosine distance, nearest first. */
  readonly query: (options: { readonly collection: string; readonly vector: ReadonlyArray<number>; readonly k: number }) => Array<Neighbour>
  readonly close: () => void
}

/** A write the store refuses: a bad collection name, a collection holding another embedder's vectors, a vector of the wrong length. */
export class VectorStoreError extends Schema.TaggedError<VectorStoreError>()("VectorStoreError", {
  collection: Schema.String,
  message: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
}

const tableOf = (collection: string, dimensions: number): string => {
  if (!collectionPattern.test(collection)) {
    throw new VectorStoreError({
      collection,
      message: `collection: expected letters, digits and _ (not starting with a digit, at most 64), found "${collection}"`
    })
  }
  return `vec_${collection}_${dimensions}`
}

const asBlob = (vector: ReadonlyArray<number>): Float32Array => Float32Array.from(vector)

/** Opens (creating when needed) the store at `path`. */
export const openVectorStore = (path: string): VectorStore => {
  const db = openSharedSqlite(path, { allowExtension: true })
  try {
    sqliteVec.load(db)
    ensureSchema(
      db,
      "CREATE TABLE IF NOT EXISTS collections (name TEXT NOT NULL, dimensions INTEGER NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, PRIMARY KEY (name, dimensions))"
    )
  } catch (error) {
    db.close()
    throw error
  }

  const originOf = (collection: string, dimensions: number): CollectionOrigin | undefined => {
    const row = db.prepare("SELECT provider, model FROM collections WHERE name = ? AND dimensions = ?").get(collection, dimensions)
    return row === undefined ? undefined : { provider: String(row.provider), model: String(row.model) }
  }

  const ensureTable = (collection: string, dimensions: number, origin: CollectionOrigin): string => {
    const table = tableOf(collection, dimensions)
    const existing = originOf(collection, dimensions)
    if (existing === undefined) {
      db.exec(
        `CREATE VIRTUAL TABLE IF NOT EXISTS "${table}" USING vec0(chunk_id TEXT PRIMARY KEY, embedding float[${dimensions}] distance_metric=cosine)`
      )
      db.prepare("INSERT INTO collections (name, dimensions, provider, model) VALUES (?, ?, ?, ?)").run(
        collection,
        dimensions,
        origin.provider,
        origin.model
      )
    } else if (existing.provider !== origin.provider || existing.model !== origin.model) {
      throw new VectorStoreError({
        collection,
        message: `collection "${collection}" (${dimensions} dimensions) holds vectors from ${existing.provider}/${existing.model}, found vectors from ${origin.provider}/${origin.model}; use another collection`
      })
    }
    return table
  }

  const dimensionsOf = (collection: string): Array<number> =>
    db
      .prepare("SELECT dimensions FROM collections WHERE name = ? ORDER BY dimensions")
      .all(collection)
      .map((row) => Number(row.dimensions))

  return {
    path,
    upsert: ({ collection, embeddings }) => {
      tableOf(collection, 0)
      const empty = embeddings.findIndex((item) => item.vector.length === 0)
      if (empty !== -1) {
        throw new VectorStoreError({
          collection,
          message: `embeddings[${empty}] (chunk ${embeddings[empty]!.chunkId}): the vector is empty`
        })
      }
      if (embeddings.length === 0) return []
      return writeTransaction(db, () => {
        // vec0 tables have no ON CONFLICT: an upsert is a delete then an insert, inside the one transaction.
        const tables = new Map<
          number,
          { readonly origin: CollectionOrigin; readonly remove: StatementSync; readonly insert: StatementSync }
        >()
        const tableFor = (item: ChunkEmbedding, position: number) => {
          const dimensions = item.vector.length
          const known = tables.get(dimensions)
          if (known === undefined) {
            const origin = { provider: item.provider, model: item.model }
            const table = ensureTable(collection, dimensions, origin)
            const made = {
              origin,
              remove: db.prepare(`DELETE FROM "${table}" WHERE chunk_id = ?`),
              insert: db.prepare(`INSERT INTO "${table}" (chunk_id, embedding) VALUES (?, ?)`)
            }
            tables.set(dimensions, made)
            return made
          }
          if (known.origin.provider !== item.provider || known.origin.model !== item.model) {
            throw new VectorStoreError({
              collection,
              message: `embeddings[${position}] (chunk ${item.chunkId}) is from ${item.provider}/${item.model}, but collection "${collection}" (${dimensions} dimensions) holds vectors from ${known.origin.provider}/${known.origin.model}; use another collection`
            })
          }
          return known
        }
        embeddings.forEach((item, position) => {
          const { insert, remove } = tableFor(item, position)
          remove.run(item.chunkId)
          insert.run(item.chunkId, asBlob(item.vector))
        })
        return embeddings.map((item) => item.chunkId)
      })
    },
    count: (collection, dimensions) =>
      (dimensions === undefined ? dimensionsOf(collection) : dimensionsOf(collection).filter((known) => known === dimensions)).reduce(
        (sum, known) => sum + Number(db.prepare(`SELECT count(*) AS n FROM "${tableOf(collection, known)}"`).get()?.n ?? 0),
        0
      ),
    query: ({ collection, k, vector }) => {
      if (!dimensionsOf(collection).includes(vector.length)) return []
      return db
        .prepare(
          `SELECT chunk_id, distance FROM "${tableOf(collection, vector.length)}" WHERE embedding MATCH ? AND k = ? ORDER BY distance`
        )
        .all(asBlob(vector), k)
        .map((row) => ({ chunkId: String(row.chunk_id), distance: Number(row.distance) }))
    },
    close: () => db.close()
  }
}
