/**
 * Deliveries are not attempts. A task message delivered again was left
 * unsettled by the replica that held it: that replica crashed (maybe
 * because of another task it ran, maybe because of this one), was paused
 * past its lease, or lost its connection. Counting such deliveries against
 * the task would let one poison task (a task that crashes whatever runs it)
 * use up the deliveries of the innocent tasks running beside it.
 *
 * So a redelivered task is a suspect: it runs alone on its replica (it
 * waits for every slot), and a start marker in the task-starts bucket,
 * keyed by the message's stream sequence, counts how many times it was
 * started alone. The marker is removed when the task is settled. A suspect
 * whose marker says it was already started alone `crashLimit` times crashed
 * every replica that ran it alone: it is poison, and is terminated (dead-
 * lettered, which fails its stage) without running again. An innocent task
 * that crashed beside the poison runs alone once and finishes.
 *
 * A first delivery costs nothing here: no marker is read or written.
 */
import { Effect, Option, Schema } from "effect"
import type { JobMessage, KvStore } from "@switchyard/bus/Bus"
import type { BusError } from "@switchyard/bus/BusError"

/** What the guard says about a leased task. */
export type Verdict =
  | { readonly _tag: "Run" }
  /** A redelivery: run it alone; `starts` counts its starts alone, this one included. */
  | { readonly _tag: "Alone"; readonly starts: number }
  /** It crashed the replicas that ran it alone this many times: do not run it. */
  | { readonly _tag: "Poison"; readonly crashes: number }

const run: Verdict = { _tag: "Run" }

/** The start marker of a task run alone. */
const StartMarker = Schema.fromJsonString(
  Schema.Struct({
    /** Starts alone so far, each by a replica that did not settle the task. */
    starts: Schema.Int,
    /** The replica of the last start. */
    executorId: Schema.String,
    at: Schema.Number
  })
)
const decodeMarker = Schema.decodeUnknownOption(StartMarker)
const encodeMarker = Schema.encodeSync(StartMarker)
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const keyOf = (message: JobMessage): string => String(message.seq)

/** The crash guard of one replica, over the task-starts bucket. */
export const makeCrashGuard = (options: {
  readonly starts: KvStore
  readonly executorId: string
  /** Starts alone a task may crash before it is taken for poison. */
  readonly crashLimit: number
  readonly now: () => number
}) => {
  const { crashLimit, executorId, starts } = options

  /** How the task is to run. A marker that cannot be read counts as none (the task runs alone). */
  const classify = (message: JobMessage): Effect.Effect<Verdict> => {
    if (message.deliveryCount <= 1) return Effect.succeed(run)
    return starts.get(keyOf(message)).pipe(
      Effect.map((entry) => {
        const crashes = Option.match(
          Option.flatMap(entry, (found) => decodeMarker(decoder.decode(found.value))),
          {
            onNone: () => 0,
            onSome: (marker) => marker.starts
          }
        )
        return crashes >= crashLimit ? ({ _tag: "Poison", crashes } as const) : ({ _tag: "Alone", starts: crashes + 1 } as const)
      }),
      Effect.catch((error) =>
        Effect.logWarning("could not read a task's start marker; running it alone", { seq: message.seq, error: error.message }).pipe(
          Effect.as<Verdict>({ _tag: "Alone", starts: 1 })
        )
      )
    )
  }

  /** Records a start alone before the task runs; a failure to record is logged (the task runs anyway). */
  const started = (message: JobMessage, count: number): Effect.Effect<void> =>
    starts.put(keyOf(message), encoder.encode(encodeMarker({ starts: count, executorId, at: options.now() }))).pipe(
      Effect.asVoid,
      Effect.catch((error: BusError) =>
        Effect.logWarning("could not record a task's start alone", { seq: message.seq, error: error.message })
      )
    )

  /** Forgets the task's starts once it is settled. */
  const settled = (message: JobMessage): Effect.Effect<void> =>
    starts
      .delete(keyOf(message))
      .pipe(Effect.catch((error) => Effect.logDebug("could not remove a task's start marker", { seq: message.seq, error: error.message })))

  /** The dead-letter reason of a poison task. */
  const poisonReason = (message: JobMessage, crashes: number): string =>
    `poison: the task on ${message.subject} (stream sequence ${message.seq}) crashed the executor replicas that ran it alone ${crashes} time(s)`

  return { classify, started, settled, poisonReason }
}

export type CrashGuard = ReturnType<typeof makeCrashGuard>
