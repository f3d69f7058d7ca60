/**
 * Ending every process of a plugin task. Each plugin process is spawned
 * detached, so it leads a process group of its own and its grandchildren are
 * in it, unless one starts a session (or group) of its own, as `setsid` and
 * daemons do. So each plugin process also carries a token in its environment
 * (`SWITCHYARD_PROCESS_TOKEN`), which its descendants inherit whatever
 * session they join: when the task ends, every process of the host whose
 * environment holds the token is killed too, found through `/proc`. A
 * descendant that clears its environment and leaves the group escapes;
 * without `/proc` (not Linux) only the group is killed.
 */
import { randomUUID } from "node:crypto"
import { readdir, readFile } from "node:fs/promises"
import { Result } from "effect"

/** The environment variable that marks every process of one plugin process's tree. */
export const processTokenVariable = "SWITCHYARD_PROCESS_TOKEN"

/** A fresh token for one plugin process. */
export const newProcessToken = (): string => randomUUID()

/** Sends `signal` to the group led by `pid`; a group that is already gone is what we want, so ESRCH is ignored. */
export const killGroup = (pid: number | undefined, signal: NodeJS.Signals): void => {
  if (pid === undefined) return
  Result.try(() => process.kill(-pid, signal))
}

/** Scans of `/proc` before giving up on processes that forked while one ran. */
const maxScans = 5

/**
 * Kills (SIGKILL) every process whose environment carries `token`, scanning again until a scan
 * finds none (a process may fork while the scan passes it). Returns how many were killed; never
 * fails (a process gone meanwhile, or another user's, is skipped).
 */
export const killMarked = async (token: string): Promise<number> => {
  const needle = Buffer.from(`\0${processTokenVariable}=${token}\0`)
  let killed = 0
  for (let scan = 0; scan < maxScans; scan++) {
    const entries = await readdir("/proc").catch(() => [] as Array<string>)
    let found = 0
    for (const entry of entries) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
      const environ = await readFile(`/proc/${entry}/environ`).catch(() => undefined)
      // Entries are NUL-terminated; the first has no NUL before it.
      if (environ === undefined || !Buffer.concat([Buffer.from([0]), environ]).includes(needle)) continue
      if (Result.isSuccess(Result.try(() => process.kill(Number(entry), "SIGKILL")))) found += 1
    }
    killed += found
    if (found === 0) break
  }
  return killed
}
