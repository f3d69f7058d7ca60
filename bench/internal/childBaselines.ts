/**
 * Baselines for the plugin benchmark's per-task rows, with nothing of
 * Switchyard in them: spawning `node -e 0` and waiting for its exit, and one
 * line echoed by an already running plain node child over its stdin and
 * stdout (the floor of any warm process round trip).
 */
import { spawn } from "node:child_process"

/** Spawns `node -e 0` and resolves when it has exited. */
export const plainSpawn = (): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" })
    child.on("error", reject)
    child.on("exit", () => resolve())
  })

/** A running node child echoing each stdin line back on stdout. */
export interface EchoChild {
  /** Sends one line and resolves when its echo is back; one at a time per child. */
  readonly roundTrip: () => Promise<void>
  readonly close: () => void
}

/** Starts an echo child and waits until it answers. */
export const startEchoChild = async (): Promise<EchoChild> => {
  const child = spawn(
    process.execPath,
    [
      "-e",
      "let p='';process.stdin.on('data',d=>{p+=d;let i;while((i=p.indexOf('\\n'))!==-1){process.stdout.write(p.slice(0,i+1));p=p.slice(i+1)}})"
    ],
    { stdio: ["pipe", "pipe", "inherit"] }
  )
  let waiting: (() => void) | undefined
  let pending = ""
  child.stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8")
    if (pending.includes("\n")) {
      pending = pending.slice(pending.lastIndexOf("\n") + 1)
      const resolve = waiting
      waiting = undefined
      resolve?.()
    }
  })
  const roundTrip = () =>
    new Promise<void>((resolve) => {
      waiting = resolve
      child.stdin.write('{"version":1,"action":"noop","input":null}\n')
    })
  await roundTrip()
  return { roundTrip, close: () => child.kill("SIGKILL") }
}
