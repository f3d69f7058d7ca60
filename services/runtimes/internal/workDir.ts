/**
 * Temporary working directories of plugin tasks: one per task, made when the
 * task starts and removed with everything in it when the task's scope
 * closes. Making one and removing it empty are one system call each, made
 * inline; a directory the task left files in is removed asynchronously.
 *
 * A warm pool's task directories sit in a directory of the pool's own, where
 * a fresh name is enough (no `mkdtemp` in the shared temporary directory),
 * and its file system work is kept off the tasks' path: a task takes an
 * empty directory made earlier, and an ended task's directory is dealt with
 * once the current turn of the event loop is over (while the next task is
 * running, typically): renamed to a fresh name (one `rename`, where an
 * `rmdir` and the next `mkdir` each cost several times more on a journalled
 * disk), then kept for a later task if it is empty and removed with its
 * contents in the background if not. Its own path is gone moments after the
 * task ended; a task finds no directory ready only when directories are
 * taken faster than they come back, and then makes one on the spot. A
 * process a task leaves running keeps its current directory through the
 * rename, so files it writes there later can show up in a later task's
 * directory (which is then not kept again); tasks of a trusted plugin share
 * a warm process anyway, and making and removing a directory per task
 * instead (in the background, on the thread pool) measured several times
 * dearer for every task.
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

/** Directories kept ready for later tasks: made when the pool starts, at most kept. */
const initialReady = 2
const maxReady = 16

/** Task directories inside a directory of their own. */
export interface WorkDirs {
  /** A fresh, empty directory for one task. */
  readonly take: () => string
  /** Ends a task's use of its directory: its path is gone moments later. */
  readonly recycle: (dir: string) => void
}

/** A source of task directories inside a directory of its own; everything is removed when the scope closes. */
export const makeWorkDirs: Effect.Effect<WorkDirs, never, Scope.Scope> = Effect.gen(function* () {
  const base = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "switchyard-pool-"))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )
  let named = 0
  const freshName = () => join(base, `task-${++named}`)
  const make = () => {
    const dir = freshName()
    mkdirSync(dir)
    return dir
  }
  // Empty directories under names never handed out.
  const ready: Array<string> = Array.from({ length: initialReady }, make)
  // The pool's directory goes whole when the scope closes, whatever a background step is still doing.
  const removeLater = (dir: string) => void rm(dir, { recursive: true, force: true }).catch(() => {})

  const take = () => ready.pop() ?? make()
  // Directories of ended tasks, renamed and sorted in one step after the current turn of the event loop.
  const ended: Array<string> = []
  const sortEnded = () => {
    for (let dir = ended.pop(); dir !== undefined; dir = ended.pop()) {
      const retired = freshName()
      if (Result.isFailure(Result.try(() => renameSync(dir, retired)))) {
        removeLater(dir)
        continue
      }
      const entries = Result.try(() => readdirSync(retired))
      if (Result.isSuccess(entries) && entries.success.length === 0 && ready.length < maxReady) ready.push(retired)
      else removeLater(retired)
    }
  }
  const recycle = (dir: string) => {
    if (ended.push(dir) === 1) setImmediate(sortEnded)
  }
  return { take, recycle } satisfies WorkDirs
})
