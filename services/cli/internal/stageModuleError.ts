/**
 * The failure of a `--module` (or a built-in plugin package) that does not
 * load as a stage module. Apart from the loader, so that the CLI's failure
 * reporting knows it without loading plugin discovery.
 */
import { Schema } from "effect"

/** A stage module could not be loaded. */
export class StageModuleError extends Schema.TaggedError<StageModuleError>()("StageModuleError", {
  path: Schema.String,
  message: Schema.String
}) {}
