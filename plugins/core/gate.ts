/**
 * `gate`: holds a run until its ledger satisfies the stage's conditions. Each
 * time it runs it evaluates the conditions against the ledger the task
 * carries; met, it succeeds at once; unmet, it answers `StageWaiting` with the
 * unmet conditions, and the scheduler runs it again after every ledger update
 * until `timeout_ms` have passed, then fails it with a `GateConditionError`
 * naming what is still unmet. Its output goes nowhere and counts nothing.
 */
import { Effect, Schema } from "effect"
import { defineStage, StageWaiting } from "@switchyard/sdk"
import { Condition, evaluate } from "./internal/conditions.ts"

const defaultTimeoutMs = 3_600_000

const GateInputs = Schema.Struct({
  /** One condition, or a list that must all hold. */
  conditions: Schema.Union([Condition, Schema.Array(Condition)]),
  /** How long the gate waits from its first evaluation; one hour when absent. */
  timeout_ms: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0))))
})

const GateOutputs = Schema.Struct({ passed: Schema.Boolean })

export const gate = defineStage({
  type: "core/core.gate",
  version: "1.0.0",
  description: "Waits until the run's ledger satisfies the given conditions, or fails with GateConditionError after a timeout.",
  plugin: "core",
  stateKey: null,
  output: "none",
  count: "none",
  inputs: GateInputs,
  outputs: GateOutputs,
  run: (inputs, ctx) => {
    const condition: Condition = Array.isArray(inputs.conditions) ? { all: inputs.conditions } : (inputs.conditions as Condition)
    const outcome = evaluate(condition, ctx.ledger ?? {})
    if (outcome.met) return Effect.succeed({ passed: true })
    const timeoutMs = inputs.timeout_ms ?? defaultTimeoutMs
    return Effect.fail(
      new StageWaiting({
        message: `gate "${ctx.stage}" waits for ${outcome.unmet.length} ledger condition${outcome.unmet.length === 1 ? "" : "s"}`,
        unmet: outcome.unmet,
        timeoutMs,
        timeoutError: {
          tag: "GateConditionError",
          message: `gate "${ctx.stage}" gave up after ${timeoutMs} ms; unmet: ${outcome.unmet.join("; ")}`
        }
      })
    )
  }
})
