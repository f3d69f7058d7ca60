/**
 * A duration a command takes from a flag, else from an environment variable,
 * else a default. It accepts Effect's own form (`7 days`, `90 minutes`,
 * `Infinity`), the short form people type (`7d`, `12h`, `30m`, `90s`,
 * `500ms`, `2w`) and ISO 8601 (`P7D`, `PT1H`); a value that is none of them,
 * or negative, fails with the flag or variable it came from.
 */
import { Config, Duration, Effect, Option, Runtime, Schema } from "effect"

/** A duration setting that does not parse: exit code 2. */
export class InvalidDurationError extends Schema.TaggedError<InvalidDurationError>()("InvalidDurationError", {
  /** Where the value came from: `--retention` or `SWITCHYARD_RUN_RETENTION`. */
  setting: Schema.String,
  found: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 2
  override readonly [Runtime.errorReported] = false
  override get message(): string {
    return `${this.setting}: expected a duration such as 7d, 12h, 30m or "7 days", found ${JSON.stringify(this.found)}`
  }
}

const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/u
const unitNames: Record<string, string> = { ms: "millis", s: "seconds", m: "minutes", h: "hours", d: "days", w: "weeks" }

/** The duration `text` names, if it names a non-negative one. */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const trimmed = text.trim()
  const match = short.exec(trimmed)
  const input = match === null ? trimmed : `${match[1]} ${unitNames[match[2]!]}`
  return Duration.fromInput(input as Duration.Input).pipe(
    Option.orElse(() => Duration.fromIso(trimmed)),
    Option.filter((duration) => !Duration.isNegative(duration))
  )
}

/** The duration of `flag` when given, else of the variable `env` when set, else `fallback`. */
export const durationSetting = (options: {
  readonly flag: string
  readonly given: Option.Option<string>
  readonly env: string
  readonly fallback: Duration.Input
}): Effect.Effect<Duration.Duration, InvalidDurationError | Config.ConfigError> =>
  Effect.gen(function* () {
    const [setting, text] = Option.isSome(options.given)
      ? [options.flag, Option.some(options.given.value)]
      : [options.env, yield* Config.option(Config.String(options.env))]
    if (Option.isNone(text)) return Duration.fromInputUnsafe(options.fallback)
    const parsed = parseDuration(text.value)
    if (Option.isNone(parsed)) return yield* new InvalidDurationError({ setting, found: text.value })
    return parsed.value
  })
