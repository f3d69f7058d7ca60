/**
 * Temporary working directories of plugin tasks: one per task, made when the
 * task starts and removed with everything in it when the task's scope
 * closes. Making one and removing it empty are one system call each, made
 * inline; a directory the task left files in is removed asynchronously.
 *
 * A warm pool's task directories sit in a directory of the pool's own, where
 * a fresh name is enough (no `mkdtemp` in the shared temporary directory),
 * and its file system work is kept off the tasks' path: an ended task's
 * directory is renamed to a fresh name at once (one `rename`, where an
 * `rmdir` and the next task's `mkdir` each cost several times more on a
 * journalled disk), so its own path is gone when the task ends; `tidy`, which
 * the pool calls while a worker is busy, then keeps the ones found empty for
 * later tasks and removes the others with their contents in the background.
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync } from "node:fs"
import { rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import type { Scope } from "effect"

const remove = (dir: string): Effect.Effect<void> =>
  Result.isSuccess(Result.try(() => rmdirSync(dir))) ? Effect.void : Effect.promise(() => rm(dir, { recursive: true, force: true }))

/** A fresh directory under the OS temporary directory, removed when the scope closes. */
export const taskWorkDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "switchyard-task-"))),
  remove
)

/** Directories kept ready for later tasks, at most. */
const maxReady = 16

/** Task directories inside a directory of their own. */
export interface WorkDirs {
  /** A fresh, empty directory for one task. */
  readonly take: () => string
  /** Ends a task's use of its directory: its path is gone when this returns. */
  readonly recycle: (dir: string) => void
  /** Sorts the recycled directories: empty ones are kept for `take`, the others removed in the background. */
  readonly tidy: () => void
}

/** A source of task directories inside a directory of its own; everything is removed when the scope closes. */
export const makeWorkDirs: Effect.Effect<WorkDirs, never, Scope.Scope> = Effect.gen(function* () {
  const base = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "switchyard-pool-"))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )
  let named = 0
  const freshName = () => join(base, `task-${++named}`)
  // Directories under names never handed out: empty and ready, or recycled and not looked at yet.
  const ready: Array<string> = []
  const recycled: Array<string> = []
  // The pool's directory goes whole when the scope closes, whatever a background removal is still doing.
  const removeLater = (dir: string) => void rm(dir, { recursive: true, force: true }).catch(() => {})

  const take = () => {
    const spare = ready.pop()
    if (spare !== undefined) return spare
    const dir = freshName()
    mkdirSync(dir)
    return dir
  }
  const recycle = (dir: string) => {
    const retired = freshName()
    if (Result.isSuccess(Result.try(() => renameSync(dir, retired)))) recycled.push(retired)
    else removeLater(dir)
  }
  const tidy = () => {
    for (let dir = recycled.pop(); dir !== undefined; dir = recycled.pop()) {
      const entries = Result.try(() => readdirSync(dir))
      if (Result.isSuccess(entries) && entries.success.length === 0 && ready.length < maxReady) ready.push(dir)
      else removeLater(dir)
    }
  }
  return { take, recycle, tidy } satisfies WorkDirs
})
