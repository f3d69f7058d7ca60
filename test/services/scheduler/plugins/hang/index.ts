/** The `hang` action of the hang test plugin: a grandchild, a pid file, and no end. */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { Schema } from "effect"
import { defineAction } from "../../../../../sdk/defineAction.ts"

export const hang = defineAction({
  name: "hang",
  inputs: Schema.Struct({ pidFile: Schema.String }),
  outputs: Schema.Struct({}),
  run: (input) => {
    const grandchild = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], {
      stdio: ["ignore", "ignore", "inherit"]
    })
    writeFileSync(input.pidFile, `${process.pid} ${grandchild.pid}`)
    setInterval(() => {}, 1000)
    return new Promise<{}>(() => {})
  }
})
