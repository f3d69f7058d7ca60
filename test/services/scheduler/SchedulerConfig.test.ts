import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { SchedulerConfig } from "../../../services/scheduler/SchedulerConfig.ts"

const fromEnv = (env: Record<string, string>) =>
  Effect.gen(function* () {
    return yield* SchedulerConfig
  }).pipe(
    Effect.provide(
      SchedulerConfig.layerConfig.pipe(Layer.provide(Layer.succeed(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))))
    )
  )

describe("SchedulerConfig from the environment", () => {
  it.effect("reads the blob threshold and the concurrencies, with their defaults", () =>
    Effect.gen(function* () {
      const defaults = yield* fromEnv({})
      assert.deepStrictEqual([defaults.blobThreshold, defaults.resultConcurrency, defaults.requestConcurrency], [65_536, 256, 64])
      const set = yield* fromEnv({ SWITCHYARD_BLOB_THRESHOLD: "4096", SWITCHYARD_RESULT_CONCURRENCY: "8" })
      assert.deepStrictEqual([set.blobThreshold, set.resultConcurrency], [4096, 8])
    })
  )

  for (const [name, value] of [
    ["SWITCHYARD_BLOB_THRESHOLD", "0"],
    ["SWITCHYARD_BLOB_THRESHOLD", "-5"],
    ["SWITCHYARD_RESULT_CONCURRENCY", "1.5"],
    ["SWITCHYARD_REQUEST_CONCURRENCY", "many"]
  ] as const) {
    it.effect(`refuses ${name}=${value}, naming the variable`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(fromEnv({ [name]: value }))
        assert.include(String(error), name)
      })
    )
  }
})
