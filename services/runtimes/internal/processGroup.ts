/**
 * Signals to a plugin process's whole process group: each plugin process is
 * spawned detached, so it leads a group of its own and its grandchildren are
 * in it unless they start a session of their own.
 */
import { Result } from "effect"

/** Sends `signal` to the group led by `pid`; a group that is already gone is what we want, so ESRCH is ignored. */
export const killGroup = (pid: number | undefined, signal: NodeJS.Signals): void => {
  if (pid === undefined) return
  Result.try(() => process.kill(-pid, signal))
}
