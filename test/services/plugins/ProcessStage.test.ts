import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { processStages } from "../../../services/plugins/index.ts"
import { processStageSuite, reporterPlugin } from "./ProcessStageSuite.ts"
import type { Report } from "./ProcessStageSuite.ts"
import { runStage } from "../../support/stages.ts"

processStageSuite("the in-memory bus", () => MemoryBus.layer)

describe("processStages outside any trace", () => {
  for (const mode of ["oneShot", "pool"] as const) {
    it.live(`passes no TRACEPARENT at all to a process plugin (${mode}) when the task has no span`, () =>
      Effect.gen(function* () {
        const [definition] = yield* processStages(yield* reporterPlugin(mode))
        const output = yield* runStage(definition, {}, { taskId: "t-1", runId: "r-1", stage: "report", attempt: 1 })
        assert.isNull((output as unknown as Report).traceparent)
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([])))
    )
  }
})
