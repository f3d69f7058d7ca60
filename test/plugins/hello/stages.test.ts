import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { StageFailure } from "../../../sdk/defineStage.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import * as hello from "../../../plugins/hello/index.ts"
import { runStage } from "../../support/stages.ts"

const info = (attempt = 1) => ({ taskId: "t", runId: "r", stage: "s", attempt })

const failureOf = (exit: Exit.Exit<unknown, StageFailure>): StageFailure => {
  assert.isTrue(Exit.isFailure(exit), "expected the stage to fail")
  return (Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined) as StageFailure
}

describe("the hello plugin", () => {
  it.effect("declares metadata the registry accepts for every stage", () =>
    Effect.gen(function* () {
      for (const stage of hello.stages) {
        const decoded = yield* Schema.decodeUnknownEffect(StageMetadata)(JSON.parse(JSON.stringify(stage.metadata)))
        assert.strictEqual(decoded.plugin, "hello")
        assert.strictEqual(decoded.runtime, "inline")
      }
      assert.strictEqual(new Set(hello.stages.map((stage) => stage.metadata.type)).size, hello.stages.length)
    })
  )

  it.effect("greets, shouts, reverses, lists letters, splits words and summarises", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* runStage(hello.greet, { name: "Ada" }, info()), { greeting: "Hello, Ada!" })
      assert.strictEqual(yield* runStage(hello.shout, { text: "Hello, Ada!" }, info()), "HELLO, ADA!")
      assert.strictEqual(yield* runStage(hello.reverse, { text: "Hello" }, info()), "olleH")
      assert.deepStrictEqual(yield* runStage(hello.letters, { text: "Hi, Jo!" }, info()), ["H", "i", "J", "o"])
      assert.deepStrictEqual(yield* runStage(hello.words, { text: "Hello, dear Ada!" }, info()), {
        words: ["Hello", "dear", "Ada"],
        wordCount: 3
      })
      assert.deepStrictEqual(yield* runStage(hello.summary, { shouted: "HI", reversed: "ih", letters: ["h", "i"] }, info()), {
        line: "HI / ih / 2 letters",
        letterCount: 2
      })
      assert.strictEqual(yield* runStage(hello.noop, { anything: true }, info()), null)
    })
  )

  it.effect("fails hello.fail retryably unless told otherwise", () =>
    Effect.gen(function* () {
      const retryable = failureOf(yield* Effect.exit(runStage(hello.fail, {}, info())))
      assert.deepStrictEqual([retryable.tag, retryable.retryable], ["StageError", true])
      const final = failureOf(yield* Effect.exit(runStage(hello.fail, { message: "stop", retryable: false }, info())))
      assert.deepStrictEqual([final.message, final.retryable], ["stop", false])
    })
  )

  it.effect("fails hello.flaky for its first failTimes attempts, then succeeds", () =>
    Effect.gen(function* () {
      for (const attempt of [1, 2]) {
        const failure = failureOf(yield* Effect.exit(runStage(hello.flaky, { failTimes: 2 }, info(attempt))))
        assert.isTrue(failure.retryable)
      }
      assert.deepStrictEqual(yield* runStage(hello.flaky, { failTimes: 2 }, info(3)), { succeededOnAttempt: 3 })
    })
  )

  it.live("sleeps for hello.sleep, gives up when interrupted and refuses a negative time", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* runStage(hello.sleep, { ms: 5 }, info()), { sleptMs: 5 })
      const exit = yield* runStage(hello.sleep, { ms: 60_000 }, info()).pipe(Effect.timeout("30 millis"), Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      const negative = failureOf(yield* Effect.exit(runStage(hello.sleep, { ms: -1 }, info())))
      assert.strictEqual(negative.tag, "InvalidInputError")
    })
  )
})
