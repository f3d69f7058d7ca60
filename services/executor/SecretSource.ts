/**
 * Where an executor finds the values of `{{ secrets.KEY }}` and `ctx.secrets`:
 * a folder holding one file per secret, named by its key (as Kubernetes
 * mounts a Secret), given by `SWITCHYARD_SECRETS_DIR`. The folder is read
 * once, when the executor starts, and the values are kept in memory only;
 * a secret never sits in the executor's environment, where every process
 * of its user could read it (`/proc/<pid>/environ`) and every child would
 * inherit it. So a `SWITCHYARD_SECRET_<KEY>` variable is refused: the
 * executor does not start, naming it.
 *
 * Secrets never travel on the bus: a task carries only the reference, and
 * the executor resolves it just before the call.
 */
import { readdir, readFile, stat } from "node:fs/promises"
import { join } from "node:path"
import { Config, ConfigProvider, Context, Effect, Layer, Option, Redacted } from "effect"
import { templateKeyPattern } from "@switchyard/schemas/InputTemplate"

/** Looks up one secret by key; none when the source does not hold it. */
export interface SecretLookup {
  readonly lookup: (key: string) => Effect.Effect<Option.Option<Redacted.Redacted<string>>>
}

/** A source holding no secret. */
const none: SecretLookup = { lookup: () => Effect.succeedNone }

/** The executor's secret source; none unless a layer gives one (`secretsLayerConfig`, `secretsFromDirectory`). */
export const SecretSource = Context.Reference<SecretLookup>("switchyard/executor/SecretSource", {
  defaultValue: () => none
})

/** The prefix of the environment variables that once held secrets, now refused. */
export const refusedSecretPrefix = "SWITCHYARD_SECRET_"

const configError = (message: string) => new Config.ConfigError(new ConfigProvider.SourceError({ message }))

/** A source of the values read, held in memory. */
const inMemory = (values: ReadonlyMap<string, Redacted.Redacted<string>>): SecretLookup => ({
  lookup: (key) => Effect.succeed(Option.fromUndefinedOr(values.get(key)))
})

/**
 * Every secret in `directory`, read now: each regular file (or link to one) whose name is a key
 * (letters, digits and `_`, not starting with a digit) holds the value of that key, one trailing
 * newline dropped. Other entries, such as the `..data` links Kubernetes adds, are skipped.
 */
export const readSecretsDirectory = (
  directory: string
): Effect.Effect<ReadonlyMap<string, Redacted.Redacted<string>>, Config.ConfigError> =>
  Effect.tryPromise({
    try: async () => {
      const values = new Map<string, Redacted.Redacted<string>>()
      for (const name of await readdir(directory)) {
        if (!templateKeyPattern.test(name)) continue
        const path = join(directory, name)
        if (!(await stat(path)).isFile()) continue
        values.set(name, Redacted.make((await readFile(path, "utf8")).replace(/\r?\n$/, "")))
      }
      return values
    },
    catch: (error) =>
      configError(
        `SWITCHYARD_SECRETS_DIR: could not read the secrets folder ${directory}: ${error instanceof Error ? error.message : String(error)}; expected a folder with one file per secret, named by its key`
      )
  })

/** Secrets from the files in `directory` (file name = key), read when the layer is built. */
export const secretsFromDirectory = (directory: string): Layer.Layer<never, Config.ConfigError> =>
  Layer.effect(SecretSource, Effect.map(readSecretsDirectory(directory), inMemory))

/**
 * The executor's secrets as configured: the folder `SWITCHYARD_SECRETS_DIR` names, read at start,
 * or none. Fails, naming the variable, when the environment holds a `SWITCHYARD_SECRET_<KEY>`.
 */
export const secretsLayerConfig: Layer.Layer<never, Config.ConfigError> = Layer.effect(
  SecretSource,
  Effect.gen(function* () {
    const refused = Object.keys(process.env).filter((name) => name.startsWith(refusedSecretPrefix))
    if (refused.length > 0) {
      return yield* Effect.fail(
        configError(
          `${refused.join(", ")}: secrets are not read from the environment, where every process of the executor's user can read them (/proc/<pid>/environ) and every child inherits them; put each in a file named by its key in a folder and set SWITCHYARD_SECRETS_DIR to that folder`
        )
      )
    }
    const directory = yield* Config.option(Config.String("SWITCHYARD_SECRETS_DIR"))
    return Option.isNone(directory) ? none : inMemory(yield* readSecretsDirectory(directory.value))
  })
)
