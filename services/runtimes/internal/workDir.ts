/**
 * Temporary working directories of plugin tasks: one per task, made when the
 * task starts and removed with everything in it when the task's scope
 * closes. Making one and removing it empty are one system call each, made
 * inline; a directory the task left files in is removed asynchronously. A
 * warm pool's task directories sit in a directory of the pool's own, where a
 * fresh name is enough (no `mkdtemp` in the shared temporary directory), and
 * an ended task's directory that is still empty is renamed to a fresh name
 * and kept for a later task: a `readdir` and a `rename` instead of an `rmdir`
 * now and a `mkdir` for the next task, each several times dearer on a
 * journalled disk. The task's own path is gone either way once it ends.
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

const maxReady = 16

/** Task directories inside a directory of their own. */
export interface WorkDirs {
  /** A fresh, empty directory for one task. */
  readonly take: Effect.Effect<string>
  /** Ends a task's use of its directory: its path is gone afterwards. */
  readonly recycle: (dir: string) => Effect.Effect<void>
}

/** A source of task directories inside a directory of its own; everything is removed when the scope closes. */
export const makeWorkDirs: Effect.Effect<WorkDirs, never, Scope.Scope> = Effect.gen(function* () {
  const base = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "switchyard-pool-"))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )
  let named = 0
  const freshName = () => join(base, `task-${++named}`)
  // Empty directories under names never handed out, left by tasks that ended.
  const ready: Array<string> = []
  const take = Effect.sync(() => {
    const spare = ready.pop()
    if (spare !== undefined) return spare
    const dir = freshName()
    mkdirSync(dir)
    return dir
  })
  const recycle = (dir: string): Effect.Effect<void> => {
    const kept = Result.try(() => {
      if (ready.length >= maxReady || readdirSync(dir).length > 0) return false
      const next = freshName()
      renameSync(dir, next)
      ready.push(next)
      return true
    })
    return Result.isSuccess(kept) && kept.success ? Effect.void : remove(dir)
  }
  return { take, recycle } satisfies WorkDirs
})
