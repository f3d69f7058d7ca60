/**
 * SQLite files that several processes write at once: the vector and graph
 * stores are shared by every executor replica on a machine. A file is opened
 * with a busy timeout (set before anything else, so even switching it to WAL
 * waits for a writer instead of failing), in WAL mode (readers never block
 * the writer), and every write call is one `BEGIN IMMEDIATE` transaction: the
 * write lock is taken up front, so a transaction never fails half way for
 * lack of it. Should SQLite still answer SQLITE_BUSY (recovering a WAL, or
 * a lock held past the busy timeout), the whole transaction is rolled back
 * and run again, with a growing pause, a bounded number of times.
 */
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { DatabaseSync } from "node:sqlite"

/** How long one statement waits for another connection's lock. @default 10000 */
export const busyTimeoutMs = 10_000

/** How many times a transaction is run again after SQLITE_BUSY. @default 8 */
export const busyRetries = 8

const SQLITE_BUSY = 5

/** Whether `error` is SQLite's SQLITE_BUSY (any extended code of it), read from its result code, never its text. */
export const isBusy = (error: unknown): boolean =>
  typeof error === "object" &&
  error !== null &&
  "errcode" in error &&
  typeof error.errcode === "number" &&
  (error.errcode & 0xff) === SQLITE_BUSY

const pause = new Int32Array(new SharedArrayBuffer(4))

/** Runs `work` again while it fails with SQLITE_BUSY, pausing 25, 50, 100... ms (the stores' API is synchronous). */
const retryBusy = <A>(work: () => A): A => {
  for (let attempt = 0; ; attempt++) {
    try {
      return work()
    } catch (error) {
      if (!isBusy(error) || attempt >= busyRetries) throw error
      Atomics.wait(pause, 0, 0, Math.min(25 * 2 ** attempt, 2_000))
    }
  }
}

/** Opens (creating it and its folder when needed) the SQLite file at `path` for concurrent writers. */
export const openSharedSqlite = (path: string, options: { readonly allowExtension?: boolean } = {}): DatabaseSync => {
  mkdirSync(dirname(path), { recursive: true })
  const db = new DatabaseSync(path, { timeout: busyTimeoutMs, allowExtension: options.allowExtension ?? false })
  try {
    retryBusy(() => db.exec("PRAGMA journal_mode = WAL"))
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

/** Runs `work` in one write transaction on `db` (taken with `BEGIN IMMEDIATE`), committed when it returns, rolled back when it throws. */
export const writeTransaction = <A>(db: DatabaseSync, work: () => A): A =>
  retryBusy(() => {
    db.exec("BEGIN IMMEDIATE")
    try {
      const result = work()
      db.exec("COMMIT")
      return result
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK")
      throw error
    }
  })

/** Runs schema statements (`CREATE ... IF NOT EXISTS`) in one write transaction, so processes opening a new file at once do not trip over each other. */
export const ensureSchema = (db: DatabaseSync, sql: string): void => writeTransaction(db, () => db.exec(sql))
