/**
 * The `hello` plugin: tiny inline stages for a fan-out / fan-in pipeline
 * (greet, then shout, reverse, letters and words side by side, then a
 * summary), plus the stages the tests and benchmarks lean on: `noop` for
 * dispatch overhead, `fail` and `flaky` for retries, `sleep` for timeouts,
 * long tasks and leases. They show the three shapes `run` may take: an
 * Effect, a plain value and a Promise.
 */
import { setTimeout as sleepFor } from "node:timers/promises"
import { Effect, Schema } from "effect"
import { defineStage, StageError } from "@switchyard/sdk"

const plugin = "hello"
const version = "1.0.0"

/** A piece of text to transform. */
const Text = Schema.Struct({ text: Schema.String })

/** `{ name }` → `{ greeting }`. */
export const greet = defineStage({
  type: "hello.greet",
  version,
  description: "Greets someone by name.",
  plugin,
  stateKey: "greeting",
  output: "set",
  count: "one",
  inputs: Schema.Struct({ name: Schema.String }),
  outputs: Schema.Struct({ greeting: Schema.String }),
  run: ({ name }) => Effect.succeed({ greeting: `Hello, ${name}!` })
})

/** Upper-cases a text. */
export const shout = defineStage({
  type: "hello.shout",
  version,
  description: "Upper-cases a text.",
  plugin,
  stateKey: "shouted",
  output: "set",
  count: "one",
  inputs: Text,
  outputs: Schema.String,
  run: ({ text }) => text.toUpperCase()
})

/** Reverses a text, character by character. */
export const reverse = defineStage({
  type: "hello.reverse",
  version,
  description: "Reverses a text.",
  plugin,
  stateKey: "reversed",
  output: "set",
  count: "one",
  inputs: Text,
  outputs: Schema.String,
  run: ({ text }) => Array.from(text).reverse().join("")
})

/** The letters of a text, appended to the `letters` list. */
export const letters = defineStage({
  type: "hello.letters",
  version,
  description: "Lists the letters of a text.",
  plugin,
  stateKey: "letters",
  output: "append",
  count: "length",
  inputs: Text,
  outputs: Schema.Array(Schema.String),
  run: ({ text }) => Array.from(text).filter((char) => /\p{L}/u.test(char))
})

/** Splits a text into words; unpacked into the `words` and `wordCount` slots. */
export const words = defineStage({
  type: "hello.words",
  version,
  description: "Splits a text into words and counts them.",
  plugin,
  stateKey: ["words", "wordCount"],
  output: "unpack",
  count: "length(words)",
  inputs: Text,
  outputs: Schema.Struct({ words: Schema.Array(Schema.String), wordCount: Schema.Int }),
  run: ({ text }) => {
    const found = text.match(/[\p{L}\p{N}']+/gu) ?? []
    return { words: found, wordCount: found.length }
  }
})

/** Fan-in: one line from the other stages' outputs, merged into the `summary` object. */
export const summary = defineStage({
  type: "hello.summary",
  version,
  description: "Summarises the shouted, reversed and letter outputs in one line.",
  plugin,
  stateKey: "summary",
  output: "merge",
  count: "one",
  dependencies: ["hello.greet"],
  inputs: Schema.Struct({ shouted: Schema.String, reversed: Schema.String, letters: Schema.Array(Schema.String) }),
  outputs: Schema.Struct({ line: Schema.String, letterCount: Schema.Int }),
  run: ({ letters, reversed, shouted }) =>
    Effect.succeed({ line: `${shouted} / ${reversed} / ${letters.length} letters`, letterCount: letters.length })
})

/** Does nothing; measures dispatch overhead. */
export const noop = defineStage({
  type: "hello.noop",
  version,
  description: "Does nothing and returns null.",
  plugin,
  stateKey: null,
  output: "none",
  count: "none",
  inputs: Schema.Unknown,
  outputs: Schema.Null,
  run: () => null
})

/** Always fails with a `StageError` (retryable unless told otherwise). */
export const fail = defineStage({
  type: "hello.fail",
  version,
  description: "Always fails.",
  plugin,
  stateKey: null,
  output: "none",
  count: "none",
  inputs: Schema.Struct({
    message: Schema.optionalKey(Schema.String),
    retryable: Schema.optionalKey(Schema.Boolean)
  }),
  outputs: Schema.Null,
  run: ({ message, retryable }) =>
    Effect.fail(new StageError({ message: message ?? "hello.fail always fails", retryable: retryable ?? true }))
})

/** Fails its first `failTimes` attempts (by the task's attempt number), then succeeds. */
export const flaky = defineStage({
  type: "hello.flaky",
  version,
  description: "Fails the first failTimes attempts, then succeeds.",
  plugin,
  stateKey: "flaky",
  output: "set",
  count: "one",
  inputs: Schema.Struct({ failTimes: Schema.Int }),
  outputs: Schema.Struct({ succeededOnAttempt: Schema.Int }),
  run: ({ failTimes }, { attempt }) =>
    attempt <= failTimes
      ? Effect.fail(new StageError({ message: `attempt ${attempt} of ${failTimes} planned failures` }))
      : Effect.succeed({ succeededOnAttempt: attempt })
})

/** Waits `ms` milliseconds, stopping early when the task is interrupted. */
export const sleep = defineStage({
  type: "hello.sleep",
  version,
  description: "Waits the given number of milliseconds.",
  plugin,
  stateKey: "slept",
  output: "set",
  count: "one",
  inputs: Schema.Struct({ ms: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))) }),
  outputs: Schema.Struct({ sleptMs: Schema.Int }),
  run: ({ ms }, { signal }) => sleepFor(ms, undefined, { signal }).then(() => ({ sleptMs: ms }))
})
