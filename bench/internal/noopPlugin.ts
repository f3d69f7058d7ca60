/**
 * The plugin module the plugin benchmark runs in child processes: one no-op
 * action, so what is measured is the runtime's own cost per task.
 */
import { Schema } from "effect"
import { defineAction } from "../../sdk/defineAction.ts"

/** Does nothing and returns null. */
export const noop = defineAction({
  name: "noop",
  inputs: Schema.Unknown,
  outputs: Schema.Null,
  run: () => null
})
