import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Layer } from "effect"
import { ExecutorConfig } from "../../../services/executor/ExecutorConfig.ts"

const settings = Effect.gen(function* () {
  return yield* ExecutorConfig
})

const fromEnv = (env: Record<string, string>, overrides?: Parameters<typeof ExecutorConfig.layerConfig>[0]) =>
  settings.pipe(
    Effect.provide(
      ExecutorConfig.layerConfig(overrides).pipe(
        Layer.provide(Layer.succeed(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))
      )
    )
  )

describe("ExecutorConfig", () => {
  it.effect("fills documented defaults and derives the lease renewal from the ack wait", () =>
    Effect.gen(function* () {
      const resolved = yield* settings.pipe(Effect.provide(ExecutorConfig.layer({ pool: "hello" })))
      assert.strictEqual(resolved.pool, "hello")
      assert.strictEqual(resolved.slots, 8)
      assert.strictEqual(resolved.maxDeliver, 20)
      assert.strictEqual(resolved.maxAckPending, 32)
      assert.strictEqual(Duration.toMillis(resolved.heartbeatInterval), 5_000)
      assert.strictEqual(Duration.toMillis(resolved.ackWait), 30_000)
      assert.strictEqual(Duration.toMillis(resolved.progressInterval), 10_000)
      assert.match(resolved.executorId, /^.+-\d+-[0-9a-f]{8}$/)
    })
  )

  it.effect("reads every SWITCHYARD_VAR_<KEY> as the var KEY, underscores and case kept, and nothing else", () =>
    Effect.gen(function* () {
      const resolved = yield* fromEnv({
        SWITCHYARD_POOL: "p",
        SWITCHYARD_VAR_API_BASE: "https://api.example",
        SWITCHYARD_VAR_region: "eu-west",
        SWITCHYARD_VAR_REGION: "EU",
        SWITCHYARD_VAR_A: "a",
        SWITCHYARD_VAR_A_B_C: "abc",
        SWITCHYARD_VAR_1: "one",
        SWITCHYARD_VARIABLE: "not a var",
        OTHER_VAR_X: "not ours"
      })
      assert.deepStrictEqual(resolved.vars, {
        API_BASE: "https://api.example",
        region: "eu-west",
        REGION: "EU",
        A: "a",
        A_B_C: "abc",
        "1": "one"
      })
      assert.deepStrictEqual((yield* fromEnv({ SWITCHYARD_POOL: "p" })).vars, {})
    })
  )

  it.effect("reads SWITCHYARD_* variables, and lets code overrides win", () =>
    Effect.gen(function* () {
      const resolved = yield* fromEnv(
        {
          SWITCHYARD_POOL: "gpu",
          SWITCHYARD_SLOTS: "2",
          SWITCHYARD_ACK_WAIT: "9 seconds",
          SWITCHYARD_EXECUTOR_ID: "exec-1",
          SWITCHYARD_SHUTDOWN_GRACE: "1 second"
        },
        { slots: 3 }
      )
      assert.strictEqual(resolved.pool, "gpu")
      assert.strictEqual(resolved.executorId, "exec-1")
      assert.strictEqual(resolved.slots, 3)
      assert.strictEqual(resolved.maxAckPending, 12)
      assert.strictEqual(Duration.toMillis(resolved.ackWait), 9_000)
      assert.strictEqual(Duration.toMillis(resolved.progressInterval), 3_000)
      assert.strictEqual(Duration.toMillis(resolved.shutdownGrace), 1_000)
      assert.strictEqual((yield* fromEnv({})).pool, "default")
    })
  )

  it.effect("refuses a slot count that is not a positive integer", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(fromEnv({ SWITCHYARD_SLOTS: "0" }))
      assert.isTrue(Exit.isFailure(exit))
    })
  )
})
