import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import { RegistryConfig, registryConfigDefaults } from "../../../services/registry/index.ts"

const fromEnv = (env: Record<string, string>) =>
  Effect.gen(function* () {
    return yield* RegistryConfig
  }).pipe(Effect.provide(RegistryConfig.layerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))))))

describe("registry settings", () => {
  it.effect("defaults to 15 seconds before a silent pool goes offline", () =>
    Effect.gen(function* () {
      const config = yield* RegistryConfig
      assert.strictEqual(Duration.toMillis(config.offlineAfter), 15_000)
      assert.deepStrictEqual(yield* fromEnv({}), registryConfigDefaults)
    })
  )

  it.effect("reads SWITCHYARD_REGISTRY_* durations from the environment", () =>
    Effect.gen(function* () {
      const config = yield* fromEnv({
        SWITCHYARD_REGISTRY_OFFLINE_AFTER: "30 seconds",
        SWITCHYARD_REGISTRY_SWEEP_INTERVAL: "250 millis"
      })
      assert.strictEqual(Duration.toMillis(config.offlineAfter), 30_000)
      assert.strictEqual(Duration.toMillis(config.sweepInterval), 250)
      assert.strictEqual(Duration.toMillis(config.forgetReplicaAfter), Duration.toMillis(registryConfigDefaults.forgetReplicaAfter))
    })
  )

  it.effect("refuses a duration it cannot read, naming the variable", () =>
    Effect.gen(function* () {
      const error = yield* fromEnv({ SWITCHYARD_REGISTRY_OFFLINE_AFTER: "soon" }).pipe(Effect.flip)
      assert.include(String(error), "SWITCHYARD_REGISTRY_OFFLINE_AFTER")
    })
  )
})
