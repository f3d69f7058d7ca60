import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { defineStage, StageWaiting, StageError, StageFailure } from "../../sdk/defineStage.ts"
import type { StageContext } from "../../sdk/defineStage.ts"
import { StageMetadata } from "../../schemas/StageMetadata.ts"
import { runStage } from "../support/stages.ts"

const info = { taskId: "task-1", runId: "run-1", stage: "greet", attempt: 2 }

const base = {
  type: "test.stage",
  version: "1.2.3",
  description: "a test stage",
  plugin: "test",
  stateKey: "out",
  output: "set",
  count: "one"
} as const

const failureOf = <A>(exit: Exit.Exit<A, StageFailure>): StageFailure => {
  assert.isTrue(Exit.isFailure(exit), "expected the stage to fail")
  const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  assert.instanceOf(error, StageFailure)
  return error as StageFailure
}

describe("defineStage", () => {
  it.effect("runs an Effect stage on decoded input and encodes its output to JSON", () =>
    Effect.gen(function* () {
      const stage = defineStage({
        ...base,
        inputs: Schema.Struct({ name: Schema.String, at: Schema.Date }),
        outputs: Schema.Struct({ greeting: Schema.String, at: Schema.Date }),
        run: ({ at, name }) => Effect.succeed({ greeting: `Hello, ${name}!`, at: new Date(at.getTime() + 1000) })
      })
      const output = yield* runStage(stage, { name: "Ada", at: "2024-01-01T00:00:00.000Z" }, info)
      assert.deepStrictEqual(output, { greeting: "Hello, Ada!", at: "2024-01-01T00:00:01.000Z" })
    })
  )

  it.effect("runs a Promise stage and a plain-value stage, passing the task's context", () =>
    Effect.gen(function* () {
      let seen: StageContext | undefined
      const asyncStage = defineStage({
        ...base,
        inputs: Schema.Struct({ n: Schema.Number }),
        outputs: Schema.Number,
        run: ({ n }, ctx) => {
          seen = ctx
          return Promise.resolve(n * 2)
        }
      })
      const plainStage = defineStage({ ...base, inputs: Schema.String, outputs: Schema.String, run: (text) => text.toUpperCase() })
      assert.strictEqual(yield* runStage(asyncStage, { n: 21 }, info), 42)
      assert.strictEqual(yield* runStage(plainStage, "hi", info), "HI")
      assert.strictEqual(seen?.taskId, "task-1")
      assert.strictEqual(seen?.runId, "run-1")
      assert.strictEqual(seen?.stage, "greet")
      assert.strictEqual(seen?.attempt, 2)
      assert.isFalse(seen?.signal.aborted)
    })
  )

  it.effect("rejects input that does not match the schema as a non-retryable InvalidInputError naming the field", () =>
    Effect.gen(function* () {
      let ran = false
      const stage = defineStage({
        ...base,
        inputs: Schema.Struct({ user: Schema.Struct({ name: Schema.String }) }),
        outputs: Schema.String,
        run: ({ user }) => {
          ran = true
          return user.name
        }
      })
      const failure = failureOf(yield* Effect.exit(runStage(stage, { user: { name: 42 } }, info)))
      assert.strictEqual(failure.tag, "InvalidInputError")
      assert.strictEqual(failure.path, "user.name")
      assert.deepStrictEqual(failure.toTaskFailure().fields, { path: "user.name" })
      assert.include(failure.message, "user.name")
      assert.include(failure.message, "string")
      assert.isFalse(failure.retryable)
      assert.isFalse(ran)
    })
  )

  it.effect("rejects output that does not match the schema as an InvalidOutputError", () =>
    Effect.gen(function* () {
      const stage = defineStage({
        ...base,
        inputs: Schema.Unknown,
        outputs: Schema.Struct({ count: Schema.Int }),
        run: () => ({ count: 1.5 })
      })
      const failure = failureOf(yield* Effect.exit(runStage(stage, null, info)))
      assert.strictEqual(failure.tag, "InvalidOutputError")
      assert.strictEqual(failure.path, "count")
      assert.isFalse(failure.retryable)
    })
  )

  it.effect("answers a Waiting outcome, not a failure, when the stage fails with or throws StageWaiting", () =>
    Effect.gen(function* () {
      const waiting = new StageWaiting({
        message: "waiting for approval",
        unmet: ["approved equals true (missing)"],
        timeoutMs: 1000,
        timeoutError: { tag: "GateConditionError", message: "gave up" }
      })
      for (const run of [
        () => Effect.fail(waiting),
        () => {
          throw waiting
        }
      ]) {
        const stage = defineStage({ ...base, inputs: Schema.Unknown, outputs: Schema.Unknown, run })
        const outcome = yield* stage.execute(null, info)
        assert.strictEqual(outcome._tag, "Waiting")
        if (outcome._tag !== "Waiting") return
        assert.deepStrictEqual([outcome.waiting.unmet, outcome.waiting.timeoutMs], [["approved equals true (missing)"], 1000])
        assert.deepStrictEqual({ ...outcome.waiting.timeoutError }, { tag: "GateConditionError", message: "gave up", retryable: false })
      }
    })
  )

  it.effect("maps thrown errors, rejections, failures and defects to failures with tag, message and retryability", () =>
    Effect.gen(function* () {
      const failing = (run: () => unknown) =>
        defineStage({ ...base, inputs: Schema.Unknown, outputs: Schema.Unknown, run })
          .execute(null, info)
          .pipe(Effect.exit)

      const thrown = failureOf(
        yield* failing(() => {
          throw new TypeError("x is not a function")
        })
      )
      assert.deepStrictEqual([thrown.tag, thrown.message, thrown.retryable], ["TypeError", "x is not a function", true])

      const rejected = failureOf(
        yield* failing(() => Promise.reject({ _tag: "QuotaExceeded", message: "daily quota used up", isRetryable: false }))
      )
      assert.deepStrictEqual([rejected.tag, rejected.message, rejected.retryable], ["QuotaExceeded", "daily quota used up", false])

      const failed = failureOf(yield* failing(() => Effect.fail(new StageError({ message: "upstream said no", retryable: false }))))
      assert.deepStrictEqual([failed.tag, failed.message, failed.retryable], ["StageError", "upstream said no", false])

      const retryable = failureOf(yield* failing(() => Effect.fail(new StageError({ message: "try later" }))))
      assert.isTrue(retryable.retryable)

      const died = failureOf(yield* failing(() => Effect.die(new RangeError("index out of range"))))
      assert.deepStrictEqual([died.tag, died.message, died.retryable], ["RangeError", "index out of range", true])

      assert.deepStrictEqual({ ...died.toTaskFailure() }, { tag: "RangeError", message: "index out of range", retryable: true })
    })
  )

  it.live("aborts the signal of a Promise stage interrupted by a timeout, which stays a timeout", () =>
    Effect.gen(function* () {
      let signal: AbortSignal | undefined
      const stage = defineStage({
        ...base,
        inputs: Schema.Unknown,
        outputs: Schema.Null,
        run: (_, ctx) => {
          signal = ctx.signal
          return new Promise<null>(() => {})
        }
      })
      const exit = yield* runStage(stage, null, info).pipe(Effect.timeout("50 millis"), Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(Exit.isFailure(exit) ? (Cause.squash(exit.cause) as { _tag: string })._tag : "", "TimeoutError")
      assert.isTrue(signal?.aborted)
    })
  )

  it.effect("runs the stage only when execute's effect runs, and again each time it runs", () =>
    Effect.gen(function* () {
      let runs = 0
      const stage = defineStage({ ...base, inputs: Schema.Unknown, outputs: Schema.Number, run: () => ++runs })
      const execution = runStage(stage, null, info)
      assert.strictEqual(runs, 0)
      assert.strictEqual(yield* execution, 1)
      assert.strictEqual(yield* execution, 2)
    })
  )

  it.live("hands a stage that reads its signal only after being interrupted one that is already aborted", () =>
    Effect.gen(function* () {
      let ctx: StageContext | undefined
      const stage = defineStage({
        ...base,
        inputs: Schema.Unknown,
        outputs: Schema.Null,
        run: (_, context) => {
          ctx = context
          return new Promise<null>(() => {})
        }
      })
      yield* runStage(stage, null, info).pipe(Effect.timeout("20 millis"), Effect.exit)
      assert.isTrue(ctx?.signal.aborted)
      assert.strictEqual({ ...ctx }.taskId, "task-1")
      assert.isTrue({ ...ctx }.signal?.aborted)
    })
  )

  it.effect("describes the stage as inline metadata with JSON Schema generated from its schemas", () =>
    Effect.gen(function* () {
      const stage = defineStage({
        ...base,
        stateKey: ["words", "wordCount"],
        output: "unpack",
        count: "length(words)",
        dependencies: ["test.before"],
        inputs: Schema.Struct({ text: Schema.String }),
        outputs: Schema.Struct({ words: Schema.Array(Schema.String), wordCount: Schema.Int }),
        run: ({ text }) => ({ words: text.split(" "), wordCount: 1 })
      })
      const metadata = stage.metadata
      assert.strictEqual(metadata.runtime, "inline")
      assert.strictEqual(metadata.timeoutMs, 30_000)
      assert.deepStrictEqual(metadata.dependencies, ["test.before"])
      assert.deepStrictEqual(metadata.stateKey, ["words", "wordCount"])
      assert.deepStrictEqual(metadata.inputs?.["required"], ["text"])
      assert.deepStrictEqual(metadata.inputs?.["properties"], { text: { type: "string" } })
      assert.strictEqual(metadata.outputs?.["$schema"], "https://json-schema.org/draft/2020-12/schema")
      // What the registry will decode: the metadata is valid as it travels.
      const decoded = yield* Schema.decodeUnknownEffect(StageMetadata)(JSON.parse(JSON.stringify(metadata)))
      assert.strictEqual(decoded.type, "test.stage")

      const slow = defineStage({ ...base, timeout: 120_000, inputs: Schema.Unknown, outputs: Schema.Unknown, run: () => null })
      assert.strictEqual(slow.metadata.timeoutMs, 120_000)
    })
  )

  it.effect("keeps invalid metadata as data for the registry to reject instead of throwing", () =>
    Effect.gen(function* () {
      const stage = defineStage({
        ...base,
        stateKey: "not-an-identifier",
        inputs: Schema.Unknown,
        outputs: Schema.Unknown,
        run: () => null
      })
      assert.strictEqual(stage.metadata.stateKey, "not-an-identifier")
      const exit = yield* Effect.exit(Schema.decodeUnknownEffect(StageMetadata)(JSON.parse(JSON.stringify(stage.metadata))))
      assert.isTrue(Exit.isFailure(exit))
    })
  )
})
