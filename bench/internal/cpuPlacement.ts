/**
 * CPU placement for the plugin benchmark's warm round trips. How long a pipe
 * round trip between two processes takes depends mostly on whether the
 * kernel runs them on one core or on two (on this kind of virtual machine
 * about 0.02 ms against 0.05 to 0.07 ms for a bare echo), and it places each
 * pair of processes by its own heuristics, so an unpinned comparison of two
 * pairs compares placements as much as code. The benchmark pins itself and
 * its children with `taskset` (util-linux) so that both sides of a ratio run
 * with the same placement, once on two cores and once on one.
 */
import { execFileSync } from "node:child_process"
import { availableParallelism } from "node:os"
import { readFileSync } from "node:fs"
import { Result } from "effect"

/** Where the benchmark's children run relative to the benchmark process. */
export type Placement = "other core" | "same core"

/** Why placements cannot be set here, or undefined when they can (two cores or more, `taskset` present). */
export const placementUnavailable = (): string | undefined => {
  if (availableParallelism() < 2) return "one CPU only"
  const probe = Result.try(() => execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" }))
  return Result.isSuccess(probe) ? undefined : "taskset (util-linux) is not installed"
}

const pin = (pid: number, cpus: string) => execFileSync("taskset", ["-pc", cpus, String(pid)], { stdio: "ignore" })

/** The pids of this process's children. */
const children = (): Array<number> =>
  readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8")
    .split(" ")
    .filter((pid) => pid.trim() !== "")
    .map(Number)

/** Pins this process to CPU 0 and every child it has now to CPU 1 (other core) or CPU 0 (same core). */
export const place = (placement: Placement): void => {
  pin(process.pid, "0")
  for (const child of children()) pin(child, placement === "other core" ? "1" : "0")
}

/** Lets this process and its children run on every CPU again. */
export const unpin = (): void => {
  const all = `0-${availableParallelism() - 1}`
  pin(process.pid, all)
  for (const child of children()) pin(child, all)
}
