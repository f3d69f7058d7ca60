import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { defineAction, isActionDefinition } from "../../sdk/defineAction.ts"
import { runAction, runActionEffect } from "../../sdk/testing.ts"

class RateLimitedError extends Schema.TaggedError<RateLimitedError>()("RateLimitedError", {
  message: Schema.String
}) {
  readonly isRetryable = true
}

const add = defineAction({
  name: "math.add",
  description: "Adds two numbers.",
  inputs: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  outputs: Schema.Struct({ sum: Schema.Number }),
  run: (input, ctx) => {
    ctx.log.info("adding", { a: input.a, b: input.b })
    return { sum: input.a + input.b }
  }
})

const context = defineAction({
  name: "ctx.echo",
  inputs: Schema.Struct({}),
  outputs: Schema.Struct({
    vars: Schema.Record(Schema.String, Schema.String),
    secrets: Schema.Record(Schema.String, Schema.String),
    workDir: Schema.String,
    taskId: Schema.String,
    runId: Schema.String,
    attempt: Schema.Number
  }),
  run: (_, ctx) =>
    Promise.resolve({
      vars: ctx.vars,
      secrets: ctx.secrets,
      workDir: ctx.workDir,
      taskId: ctx.taskId,
      runId: ctx.runId,
      attempt: ctx.attempt
    })
})

describe("defineAction", () => {
  it("marks its result as an action a plugin module can export", () => {
    assert.isTrue(isActionDefinition(add))
    assert.isFalse(isActionDefinition({ name: "math.add" }))
    assert.strictEqual(add.description, "Adds two numbers.")
  })

  it.effect("runs an action and returns its encoded output with its structured logs", () =>
    Effect.gen(function* () {
      const result = yield* runActionEffect(add, { a: 2, b: 3 })
      assert.strictEqual(result.status, "succeeded")
      if (result.status !== "succeeded") return
      assert.deepStrictEqual(result.output, { sum: 5 })
      assert.deepStrictEqual(result.logs, [{ a: 2, b: 3, level: "info", message: "adding" }])
    })
  )

  it("gives the action the vars, secrets, work directory and task ids it was run with", async () => {
    const result = await runAction(
      context,
      {},
      { vars: { region: "eu" }, secrets: { token: "t" }, workDir: "/tmp/x", taskId: "t1", runId: "r1", attempt: 3 }
    )
    assert.deepStrictEqual(result, {
      status: "succeeded",
      output: { vars: { region: "eu" }, secrets: { token: "t" }, workDir: "/tmp/x", taskId: "t1", runId: "r1", attempt: 3 },
      logs: []
    })
  })

  it.effect("reports input that does not decode as a non-retryable InvalidInputError naming the field", () =>
    Effect.gen(function* () {
      const result = yield* runActionEffect(add, { a: 2, b: "three" })
      assert.strictEqual(result.status, "failed")
      if (result.status !== "failed") return
      assert.strictEqual(result.error.tag, "InvalidInputError")
      assert.strictEqual(result.error.retryable, false)
      assert.include(result.error.message, "math.add input at b")
    })
  )

  it.effect("reports output that does not encode as an InvalidOutputError", () =>
    Effect.gen(function* () {
      const wrong = defineAction({
        name: "wrong.output",
        inputs: Schema.Struct({}),
        outputs: Schema.Struct({ n: Schema.Number }),
        run: () => ({ n: "not a number" }) as unknown as { n: number }
      })
      const result = yield* runActionEffect(wrong, {})
      assert.strictEqual(result.status, "failed")
      if (result.status !== "failed") return
      assert.strictEqual(result.error.tag, "InvalidOutputError")
      assert.include(result.error.message, "wrong.output output at n")
    })
  )

  it.effect("keeps a tagged failure's tag, message and retryability", () =>
    Effect.gen(function* () {
      const limited = defineAction({
        name: "api.call",
        inputs: Schema.Struct({}),
        outputs: Schema.Struct({}),
        run: () => Effect.fail(new RateLimitedError({ message: "slow down" }))
      })
      const result = yield* runActionEffect(limited, {})
      assert.deepStrictEqual(result, {
        status: "failed",
        error: { tag: "RateLimitedError", message: "slow down", retryable: true },
        logs: []
      })
    })
  )

  it.effect("turns a rejected promise or a thrown error into a non-retryable failure", () =>
    Effect.gen(function* () {
      const rejects = defineAction({
        name: "rejects",
        inputs: Schema.Struct({}),
        outputs: Schema.Struct({}),
        run: () => Promise.reject(new TypeError("bad thing"))
      })
      const throws = defineAction({
        name: "throws",
        inputs: Schema.Struct({}),
        outputs: Schema.Struct({}),
        run: (): {} => {
          throw new RangeError("out of range")
        }
      })
      const rejected = yield* runActionEffect(rejects, {})
      const thrown = yield* runActionEffect(throws, {})
      assert.deepStrictEqual(rejected, {
        status: "failed",
        error: { tag: "TypeError", message: "bad thing", retryable: false },
        logs: []
      })
      assert.deepStrictEqual(thrown, {
        status: "failed",
        error: { tag: "RangeError", message: "out of range", retryable: false },
        logs: []
      })
    })
  )

  it("passes the caller's abort signal to the action", async () => {
    const waits = defineAction({
      name: "waits",
      inputs: Schema.Struct({}),
      outputs: Schema.Struct({ aborted: Schema.Boolean }),
      run: (_, ctx) =>
        new Promise<{ aborted: boolean }>((resolve) => {
          if (ctx.signal.aborted) resolve({ aborted: true })
          ctx.signal.addEventListener("abort", () => resolve({ aborted: true }))
        })
    })
    const controller = new AbortController()
    const pending = runAction(waits, {}, { signal: controller.signal, workDir: "/tmp" })
    controller.abort()
    assert.deepStrictEqual(await pending, { status: "succeeded", output: { aborted: true }, logs: [] })
  })
})
