/**
 * Helpers for tests that start real processes: whether a pid is gone, and a
 * scratch folder under the OS temporary directory removed with the scope.
 */
import { readFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"

/** Whether a pid no longer names a live process (gone, or a zombie nobody reaped yet). */
export const isGone = (pid: number): boolean => {
  const probe = Result.try(() => process.kill(pid, 0))
  if (Result.isFailure(probe)) return (probe.failure as NodeJS.ErrnoException).code === "ESRCH"
  const status = Result.try(() => readFileSync(`/proc/${pid}/status`, "utf8"))
  return Result.isSuccess(status) && /^State:\s+Z/m.test(status.success)
}

/** A fresh folder named `<prefix>…` under the OS temporary directory, removed when the scope closes. */
export const scratchDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), prefix))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )
