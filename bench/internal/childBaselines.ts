/**
 * Baselines for the plugin benchmark's per-task rows, with nothing of
 * Switchyard's runtime in them: spawning `node -e 0` and waiting for its
 * exit; spawning `node` on a plugin module by hand to run one action
 * (`plainActionChild.ts`: what a fresh process of that plugin costs before
 * any runtime adds to it); and one line echoed by an already running plain
 * node child over its stdin and stdout (the floor of any warm process round
 * trip).
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** Spawns `node -e 0` and resolves when it has exited. */
export const plainSpawn = (): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" })
    child.on("error", reject)
    child.on("exit", () => resolve())
  })

const plainActionChild = fileURLToPath(new URL("./plainActionChild.ts", import.meta.url))

/** Spawns `node` to import the plugin module and run one action, and resolves when it has exited 0 with a result. */
export const plainActionSpawn = (entry: string, action: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [plainActionChild, entry, action], { stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.on("error", reject)
    child.on("close", (code) =>
      code === 0 && output.includes('"succeeded"') ? resolve() : reject(new Error(`plain action child exited ${code}: ${output}`))
    )
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
