/**
 * Keeping what a service owns in JetStream (its streams, consumers and
 * buckets) in place while it runs. The service gives one idempotent `ensure`
 * that declares all of it and says what it had to create; `make` runs it at
 * start (a failure there fails the service's layer), and again whenever the
 * bus signals that something may be gone (a reconnect: the server may have
 * come back with an empty store; an operation that found a stream, consumer
 * or bucket missing) or the service reports such a failure itself (`lost`).
 * A recovery retries `ensure` with backoff until it succeeds, keeps the
 * service not ready from the moment `ensure` fails or had to create
 * something until it is done (a pass that finds everything in place leaves
 * the service ready throughout), runs the service's `recovered` step (say,
 * reloading what it keeps in memory from a recreated bucket), and logs once
 * per outage: what was gone and recreated, and, when it took more than one
 * attempt, that it recovered. Signals that come during a recovery fold into
 * one more pass, which finds everything in place and says nothing. With a
 * `Readiness` in its context, the connection and this state are two of the
 * service's readiness checks.
 */
import { Duration, Effect, Queue, Schedule, type Scope, Stream } from "effect"
import { ServiceUnavailableError } from "@switchyard/schemas/Endpoint"
import { Bus, type ConsumerConfig, type InfrastructureSignal, type StreamConfig } from "./Bus.ts"
import { BusError } from "./BusError.ts"
import * as Readiness from "./Readiness.ts"

/** What `make` takes. */
export interface InfrastructureOptions {
  /** Names the service in its log lines, e.g. `registry`, `executor of pool hello`. */
  readonly service: string
  /** Declares everything the service owns (idempotent); returns what did not exist, e.g. `stream SWITCHYARD_TASKS`. */
  readonly ensure: Effect.Effect<ReadonlyArray<string>, BusError>
  /** Runs after every recovery, once `ensure` succeeded, with what it created; a failure retries the recovery. */
  readonly recovered?: (created: ReadonlyArray<string>) => Effect.Effect<void, BusError>
  /** Pause before the first retry of a failed recovery; it doubles up to 5 seconds. @default 250 millis */
  readonly firstRetry?: Duration.Input
}

/** A service's hold on its infrastructure. */
export interface Infrastructure {
  /** False while a recovery runs: something the service owns may be missing. */
  readonly ready: Effect.Effect<boolean>
  /** Starts a recovery when `error` says a stream, consumer or bucket is gone; does not wait for it. */
  readonly lost: (error: BusError) => Effect.Effect<void>
  /**
   * Serves a request on `subject` only when ready, else fails with `ServiceUnavailableError`; a
   * failure of `effect` that found something gone starts a recovery and fails the same way, so
   * the caller hears a typed, retryable answer and the outage is logged once, not per request.
   */
  readonly serve: <A, E, R>(
    subject: string,
    effect: Effect.Effect<A, E | BusError, R>
  ) => Effect.Effect<A, E | BusError | ServiceUnavailableError, R>
}

/** What a service owns: streams first, then their consumers, and KV buckets. */
export interface Declarations {
  readonly streams?: ReadonlyArray<StreamConfig>
  readonly consumers?: ReadonlyArray<ConsumerConfig>
  readonly buckets?: ReadonlyArray<string>
}

/** An `ensure` that declares `declarations` on `bus` in order and names what did not exist. */
export const declare = (bus: Bus["Service"], declarations: Declarations): Effect.Effect<ReadonlyArray<string>, BusError> =>
  Effect.gen(function* () {
    const created: Array<string> = []
    for (const stream of declarations.streams ?? []) if (yield* bus.ensureStream(stream)) created.push(`stream ${stream.name}`)
    for (const consumer of declarations.consumers ?? []) {
      if (yield* bus.ensureConsumer(consumer)) created.push(`consumer ${consumer.durable} of stream ${consumer.stream}`)
    }
    for (const bucket of declarations.buckets ?? []) if (yield* bus.ensureBucket(bucket)) created.push(`bucket ${bucket}`)
    return created
  })

const plural = (things: ReadonlyArray<string>) => `${things.join(", ")} ${things.length === 1 ? "was" : "were"}`

const describe = (signal: InfrastructureSignal): string =>
  signal._tag === "Reconnected" ? "reconnected to the server" : `${signal.resource} is gone (found by ${signal.operation})`

/** Ensures the service's infrastructure now and keeps it in place for as long as the scope lives. */
export const make = (options: InfrastructureOptions): Effect.Effect<Infrastructure, BusError, Bus | Scope.Scope> =>
  Effect.gen(function* () {
    const bus = yield* Bus
    // Subscribed before the first ensure, so nothing that happens after it is missed.
    const signals = yield* bus.infrastructure
    yield* options.ensure
    let ready = true
    // One pending reason at most: whatever comes during a recovery asks for one more pass.
    const wake = yield* Queue.sliding<string>(1)
    const retry = Schedule.min([Schedule.exponential(options.firstRetry ?? Duration.millis(250)), Schedule.spaced(Duration.seconds(5))])

    const recover = (reason: string) =>
      Effect.gen(function* () {
        const created = new Set<string>()
        let failures = 0
        yield* options.ensure.pipe(
          Effect.tap((made) =>
            Effect.sync(() => {
              for (const thing of made) created.add(thing)
              if (made.length > 0) ready = false
            })
          ),
          Effect.tap((made) => options.recovered?.(made) ?? Effect.void),
          Effect.tapError((error) => {
            ready = false
            return failures++ === 0
              ? Effect.logWarning(`${options.service}: ${reason}; cannot put its streams, consumers and buckets back yet, retrying`, {
                  error: error.message
                })
              : Effect.logDebug(`${options.service}: still cannot put its streams, consumers and buckets back`, { error: error.message })
          }),
          Effect.retry({ schedule: retry })
        )
        if (created.size > 0) yield* Effect.logWarning(`${options.service}: ${plural([...created])} gone (${reason}); recreated`)
        if (failures > 0 || created.size > 0) yield* Effect.logInfo(`${options.service}: recovered`)
        ready = true
      })

    yield* Effect.forkScoped(Effect.forever(Queue.take(wake).pipe(Effect.flatMap(recover))))
    yield* signals.pipe(
      Stream.runForEach((signal) => Queue.offer(wake, describe(signal))),
      Effect.forkScoped
    )

    const lost = (error: BusError): Effect.Effect<void> =>
      error.isMissing
        ? Queue.offer(wake, `${error.subject ?? error.operation} is gone (${error.message})`).pipe(Effect.asVoid)
        : Effect.void

    const unavailable = (subject: string, operation: string, message: string) =>
      new ServiceUnavailableError({
        subject,
        operation,
        message: `${message}; ${options.service} is putting its streams, consumers and buckets back`
      })

    const serve = <A, E, R>(subject: string, effect: Effect.Effect<A, E | BusError, R>) =>
      Effect.suspend(() =>
        ready
          ? effect.pipe(
              Effect.catchIf(
                (error): error is BusError => error instanceof BusError && error.isMissing,
                (error) => lost(error).pipe(Effect.andThen(Effect.fail(unavailable(subject, error.operation, error.message))))
              )
            )
          : Effect.fail(unavailable(subject, "serve", "something it keeps in JetStream was gone"))
      )

    // Reported by the service's readiness endpoint, when it has one.
    yield* Readiness.register({ name: `${options.service}: connected to the server`, ready: bus.connected })
    yield* Readiness.register({ name: `${options.service}: streams, consumers and buckets in place`, ready: Effect.sync(() => ready) })

    return { ready: Effect.sync(() => ready), lost, serve } satisfies Infrastructure
  })
