/**
 * `switchyard runs`: keeping a deployment's stored runs in bounds. `gc`
 * deletes the runs that finished longer ago than the retention, with their
 * item results, and the blobs nothing names any more once they are older
 * than the grace period. Over NATS only: an embedded run's store lives and
 * dies with its process.
 */
import { Config, Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { asCommand } from "./internal/failures.ts"
import { durationSetting, InvalidDurationError } from "./internal/durationSetting.ts"

const nats = Flag.String("nats").pipe(
  Flag.withDescription("NATS server URL"),
  Flag.withFallbackConfig(Config.String("SWITCHYARD_NATS_URL")),
  Flag.withDefault("nats://127.0.0.1:4222")
)

/** Prints a command's own errors on stderr (they are not reported again). */
const reportErrors = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.tapError((error) => (error instanceof InvalidDurationError ? Console.error(error.message) : Effect.void)))

const gc = Command.make(
  "gc",
  {
    nats,
    retention: Flag.String("retention").pipe(
      Flag.withDescription(
        'How long a finished run is kept after it finished: 7d, 12h, 30m, "7 days" (default: SWITCHYARD_RUN_RETENTION, else 7 days)'
      ),
      Flag.optional
    ),
    grace: Flag.String("grace").pipe(
      Flag.withDescription(
        "How long a blob nothing names is kept after it was stored, for tasks and results in flight (default: SWITCHYARD_BLOB_GRACE, else 1 hour)"
      ),
      Flag.optional
    ),
    dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Report what would be deleted; delete nothing"), Flag.withDefault(false)),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as one JSON object"), Flag.withDefault(false))
  },
  Effect.fn(
    function* (options) {
      const retention = yield* durationSetting({
        flag: "--retention",
        given: options.retention,
        env: "SWITCHYARD_RUN_RETENTION",
        fallback: "7 days"
      })
      const grace = yield* durationSetting({ flag: "--grace", given: options.grace, env: "SWITCHYARD_BLOB_GRACE", fallback: "1 hour" })
      const { runGc } = yield* Effect.promise(() => import("./internal/runGc.ts"))
      return yield* runGc({ url: options.nats, retention, grace, dryRun: options.dryRun, json: options.json })
    },
    reportErrors,
    asCommand("Warn")
  )
).pipe(
  Command.withDescription(
    "Delete finished runs past the retention, with their item results, and the blobs nothing names that are past the grace period"
  )
)

/** `switchyard runs gc`. */
export const runs = Command.make("runs").pipe(Command.withDescription("Manage stored runs (over NATS)"), Command.withSubcommands([gc]))
