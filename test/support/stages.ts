/**
 * Runs a stage definition the way a test wants it most of the time: its
 * output when it is done, its `StageFailure` when it fails, and a defect when
 * it answers that it waits (tests of waiting stages read the outcome itself).
 */
import { Effect } from "effect"
import type { Schema } from "effect"
import type { StageDefinition, StageFailure, StageTaskInfo } from "../../schemas/Stage.ts"

/** The output of a stage that is done. */
export const runStage = (
  definition: StageDefinition<any, any>,
  input: unknown,
  info: StageTaskInfo
): Effect.Effect<Schema.Json, StageFailure> =>
  Effect.flatMap(definition.execute(input, info), (outcome) =>
    outcome._tag === "Done" ? Effect.succeed(outcome.output) : Effect.die(new Error(`the stage waits: ${outcome.waiting.message}`))
  )
