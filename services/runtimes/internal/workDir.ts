/**
 * Temporary working directories of plugin tasks: one per task, made when the
 * task starts and removed with everything in it when the task's scope
 * closes. Making one and removing it empty are one system call each, made
 * inline (a warm pool pays them on every task); a directory the task left
 * files in is removed asynchronously. A warm pool's task directories sit in
 * a directory of the pool's own, where a plain `mkdir` of a fresh name is
 * enough (cheaper than `mkdtemp` in the shared temporary directory).
 */
import { mkdirSync, mkdtempSync, rmdirSync } from "node:fs"
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

/** A source of task directories inside a directory of its own; everything is removed when the scope closes. */
export const makeWorkDirs: Effect.Effect<Effect.Effect<string, never, Scope.Scope>, never, Scope.Scope> = Effect.gen(function* () {
  const base = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "switchyard-pool-"))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )
  let made = 0
  return Effect.acquireRelease(
    Effect.sync(() => {
      const dir = join(base, `task-${++made}`)
      mkdirSync(dir)
      return dir
    }),
    remove
  )
})
