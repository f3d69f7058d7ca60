/**
 * Where an executor finds the values of `{{ secrets.KEY }}`: its own
 * environment (`SWITCHYARD_SECRET_<KEY>`, read through the config provider)
 * by default, or a directory holding one file per key. Secrets never travel
 * on the bus: a task carries only the reference, and the executor resolves
 * it just before the call.
 */
import { join } from "node:path"
import { readFile } from "node:fs/promises"
import { Config, Context, Effect, Layer, Option, Redacted } from "effect"

/** Looks up one secret by key; none when the source does not hold it. */
export interface SecretLookup {
  readonly lookup: (key: string) => Effect.Effect<Option.Option<Redacted.Redacted<string>>>
}

const fromEnvironment: SecretLookup = {
  lookup: (key) =>
    Effect.gen(function* () {
      return yield* Config.option(Config.Redacted(`SWITCHYARD_SECRET_${key}`))
    }).pipe(Effect.orElseSucceed(() => Option.none()))
}

/** The executor's secret source; the environment unless a layer says otherwise. */
export const SecretSource = Context.Reference<SecretLookup>("switchyard/executor/SecretSource", {
  defaultValue: () => fromEnvironment
})

/** Secrets from files in `directory` (file name = key, trailing newline dropped). */
export const secretsFromDirectory = (directory: string): Layer.Layer<never> =>
  Layer.succeed(SecretSource, {
    lookup: (key) =>
      /^[A-Za-z0-9_.-]+$/.test(key)
        ? Effect.tryPromise(() => readFile(join(directory, key), "utf8")).pipe(
            Effect.map((text) => Option.some(Redacted.make(text.replace(/\r?\n$/, "")))),
            Effect.orElseSucceed(() => Option.none())
          )
        : Effect.succeedNone
  })
