/**
 * The actions of the `hello-process` example plugin. The executor runs each
 * task in a fresh child process: the SDK's runner reads the request on stdin,
 * calls the action named by the task and writes its result on stdout.
 */
import { Schema } from "effect"
import { defineAction } from "@switchyard/sdk"

/** `{ name }` → a greeting, computed in a child process. */
export const greet = defineAction({
  name: "greet",
  description: "Returns a greeting for the given name.",
  inputs: Schema.Struct({ name: Schema.String }),
  outputs: Schema.String,
  run: ({ name }, ctx) => {
    ctx.log.info("greeting", { name, pid: process.pid })
    return `Hello from a child process, ${name}!`
  }
})
