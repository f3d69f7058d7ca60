/**
 * One executor replica of a pool. Starting it ensures the task and result
 * streams and the pool's shared durable consumer (create-or-update, so any
 * replica may start first), announces the pool's stage types on
 * `stage.register`, beats on `stage.heartbeat`, and runs up to `slots` tasks
 * at once from `task.run.<pool>`, each result published before its task is
 * acked.
 *
 * Ordering at start: tasks are consumed once the first registration attempt
 * has finished: answered, refused by nobody listening, or timed out after
 * `registerTimeout`. Until the registry answers, every stage type in the
 * catalog is served and registration is retried in the background with
 * capped exponential backoff; once it answers, types it rejected are no
 * longer served (their tasks fail with `UnknownStageError`).
 *
 * The catalog may change while the replica runs (a plugin appeared or
 * disappeared): added types are registered, removed ones are no longer
 * served and are deregistered with `stage.deregister`. Heartbeats list the
 * types served now, which is how the registry knows whether another replica
 * still serves a type one replica deregisters.
 *
 * Lost infrastructure (`@switchyard/bus/Infrastructure`): a replica owns
 * the task and result streams, its pool's consumer and the task-starts
 * bucket as much as any other replica or the scheduler does, and puts them
 * back when they are gone (the consumer stream goes on leasing from the new
 * consumer). When a heartbeat's answer says the registry no longer knows
 * types this replica serves (its buckets were lost), it registers its
 * catalog again.
 *
 * Crashes: a task delivered again (its last holder never settled it) runs
 * alone on the replica that gets it, and one that crashed the replicas
 * running it alone `crashLimit` times is dead-lettered as poison
 * (`internal/crashGuard.ts`), so a crashing task cannot use up the
 * deliveries of the tasks beside it.
 *
 * Cancellation: every replica listens on `task.cancel.<runId>`; a notice
 * interrupts the tasks of that run running here (inline stages see their
 * `AbortSignal` fire, process stages have their process group killed), acks
 * them without a result, and confirms on `task.cancelled.<runId>`.
 *
 * Shutdown (closing the layer's scope): the replica stops leasing tasks,
 * lets running ones finish for up to `shutdownGrace`, then interrupts the
 * rest without acking them, so their leases run out and another replica
 * takes them, exactly as after a crash. It then stops beating and
 * deregisters every type it served (best effort, each request bounded by
 * `registerTimeout`; a registry that does not answer marks the pool offline
 * once its heartbeats stop).
 */
import { Clock, Context, Duration, Effect, Fiber, FiberSet, identity, Layer, Queue, Schedule, Semaphore, Stream } from "effect"
import { BlobStore } from "@switchyard/bus/BlobStore"
import { Bus } from "@switchyard/bus/Bus"
import type { BusError } from "@switchyard/bus/BusError"
import * as Infrastructure from "@switchyard/bus/Infrastructure"
import * as Readiness from "@switchyard/bus/Readiness"
import type { ConsumerConfig, JobMessage } from "@switchyard/bus/Bus"
import * as Codec from "@switchyard/schemas/Codec"
import { resultsStream, tasksStream } from "@switchyard/bus/Streams"
import type { Names } from "@switchyard/schemas/Subjects"
import { Subjects } from "@switchyard/schemas/Subjects"
import { WireType } from "@switchyard/schemas/Catalog"
import { Heartbeat } from "@switchyard/schemas/Registry"
import { TaskCancel, TaskCancelled } from "@switchyard/schemas/Task"
import type { ExecutorSettings } from "./ExecutorConfig.ts"
import { ExecutorConfig } from "./ExecutorConfig.ts"
import { type CatalogChange, StageCatalog } from "./StageCatalog.ts"
import { nak, settle, term } from "./internal/ackDecision.ts"
import { makeCrashGuard } from "./internal/crashGuard.ts"
import { type Lease, LeaseKeeper } from "./internal/leaseKeeper.ts"
import { makeRegistration } from "./internal/registration.ts"
import { RunningTasks } from "./internal/runningTasks.ts"
import { makeTaskHandler } from "./internal/taskHandler.ts"
import { recordQueue } from "./internal/instruments.ts"

/** How long a task whose handler broke waits before it is delivered again. */
const redeliverDelay = "1 second"

/** The pool's durable consumer, as every replica of the pool declares it. */
export const poolConsumer = (names: Names, settings: ExecutorSettings): ConsumerConfig => ({
  stream: names.streams.tasks,
  durable: names.consumers.pool(settings.pool),
  filterSubject: names.taskRun(settings.pool),
  ackWait: settings.ackWait,
  maxDeliver: settings.maxDeliver,
  maxAckPending: settings.maxAckPending,
  deadLetterSubject: names.deadLetter("task.run")
})

/** A running executor replica. */
export class Executor extends Context.Service<
  Executor,
  {
    readonly pool: string
    readonly executorId: string
    /** Tasks running on this replica now. */
    readonly inFlight: Effect.Effect<number>
    /** Whether the registry has answered this replica's registration. */
    readonly registered: Effect.Effect<boolean>
    /** Stage types served now: the catalog minus what the registry rejected. */
    readonly served: Effect.Effect<ReadonlyArray<string>>
    /** False while the replica puts back streams, consumers or buckets it found gone. */
    readonly ready: Effect.Effect<boolean>
  }
>()("switchyard/executor/Executor") {
  /** Starts the replica for the layer's lifetime. */
  static readonly layer: Layer.Layer<Executor, BusError, Bus | BlobStore | ExecutorConfig | StageCatalog> = Layer.effect(
    Executor,
    Effect.gen(function* () {
      const bus = yield* Bus
      const settings = yield* ExecutorConfig
      const catalog = yield* StageCatalog
      const names = yield* Subjects
      const consumer = poolConsumer(names, settings)

      const infrastructure = yield* Infrastructure.make({
        service: `executor ${settings.executorId} of pool ${settings.pool}`,
        ensure: Infrastructure.declare(bus, {
          streams: [tasksStream(names), resultsStream(names)],
          consumers: [consumer],
          buckets: [names.buckets.taskStarts]
        }).pipe(Effect.withSpan("Executor.ensureQueues", { attributes: { pool: settings.pool } }))
      })

      // Subscribed before the first registration reads the catalog, so no change falls between them.
      const changes = yield* catalog.changes
      const registration = yield* makeRegistration({ bus, settings, catalog })
      const firstAttempt = yield* Effect.result(registration.attempt)
      if (firstAttempt._tag === "Failure") {
        yield* Effect.logWarning(
          `registration on ${names.stageRegister} did not succeed; serving all ${catalog.definitions().length} stage type(s) and retrying it in the background`,
          { pool: settings.pool, error: firstAttempt.failure.message }
        )
        yield* Effect.forkScoped(
          registration.retryUntilRegistered.pipe(
            Effect.catch((error) => Effect.logError("registration gave up", { pool: settings.pool, error: error.message }))
          )
        )
      }

      // Finalizers run in reverse: the consumer stops first, then in-flight tasks drain, then
      // catalog changes and heartbeats stop, then the replica deregisters, then the task set
      // interrupts whatever outlived the grace period, and last the lease keeper stops
      // (draining tasks keep their leases).
      const clock = yield* Clock.Clock
      const leases = new LeaseKeeper({ clock, interval: settings.progressInterval })
      yield* Effect.forkScoped(leases.run)
      const running = yield* FiberSet.make<void, never>()
      const inFlight = FiberSet.size(running)

      // A registry that cannot be reached is said once, not at every beat.
      let beatsFailing = false
      const beat = Effect.gen(function* () {
        const served = registration.served()
        const reply = yield* registration.heartbeat(
          new Heartbeat({
            version: 1,
            pool: settings.pool,
            executorId: settings.executorId,
            slots: settings.slots,
            inFlight: yield* inFlight,
            types: served
          })
        )
        if (beatsFailing) yield* Effect.logInfo("the registry answers heartbeats again", { pool: settings.pool })
        beatsFailing = false
        const unknown = (reply.unknown ?? []).filter((type) => served.includes(type))
        if (unknown.length === 0) return
        yield* Effect.logWarning(
          `the registry has no record of ${unknown.length} stage type(s) this replica serves; registering the catalog again`,
          { pool: settings.pool, unknown }
        )
        yield* registration.attempt.pipe(
          Effect.catch((error) =>
            Effect.logWarning("registering again did not succeed; the next heartbeat tries again", { error: error.message })
          )
        )
      }).pipe(
        Effect.catch((error) => {
          const first = !beatsFailing
          beatsFailing = true
          return (first ? Effect.logWarning : Effect.logDebug)("the registry did not record a heartbeat", {
            pool: settings.pool,
            error: error.message
          })
        })
      )
      // Heartbeats have stopped by the time this runs: none can announce the replica again afterwards.
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => registration.withdraw(catalog.definitions(), "shutdown")).pipe(
          Effect.timeoutOption(Duration.sum(settings.registerTimeout, Duration.seconds(1))),
          Effect.flatMap((done) =>
            done._tag === "Some"
              ? Effect.void
              : Effect.logWarning("shutting down: deregistration did not finish in time", { pool: settings.pool })
          )
        )
      )
      yield* Effect.forkScoped(beat.pipe(Effect.repeat(Schedule.spaced(settings.heartbeatInterval))))

      const applyChange = (change: CatalogChange) =>
        change._tag === "Added"
          ? registration.announce(change.definitions).pipe(
              Effect.catch((error) =>
                Effect.logWarning("registering added stage types did not succeed; retrying with the whole catalog", {
                  pool: settings.pool,
                  error: error.message
                }).pipe(Effect.andThen(registration.retryUntilRegistered), Effect.ignore)
              )
            )
          : registration.withdraw(change.definitions, "plugin-removed")
      yield* Effect.forkScoped(Effect.forever(Queue.take(changes).pipe(Effect.flatMap(applyChange))))

      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const left = yield* inFlight
          if (left === 0) return
          yield* Effect.logInfo(`shutting down: waiting for ${left} running task(s)`, { pool: settings.pool })
          const drained = yield* FiberSet.awaitEmpty(running).pipe(Effect.timeoutOption(settings.shutdownGrace))
          if (drained._tag === "None") {
            yield* Effect.logWarning(
              `shutting down: interrupting ${yield* inFlight} task(s) still running after the grace period; another replica will take them when their leases run out`,
              { pool: settings.pool }
            )
          }
        })
      )

      const runningTasks = new RunningTasks()
      const handle = makeTaskHandler({
        bus,
        names,
        settings,
        catalog,
        rejections: registration.currentRejections,
        leases,
        running: runningTasks,
        clock,
        blobs: yield* BlobStore
      })

      // Every replica hears every cancel notice (no queue group): it stops the run's tasks it holds,
      // acks them (the scheduler wants no result of a cancelled run) and says which it stopped.
      const stopRun = (notice: TaskCancel) =>
        Effect.gen(function* () {
          const tasks = runningTasks.cancel(notice.runId)
          if (tasks.length === 0) return
          yield* Effect.forEach(tasks, (task) => Fiber.interrupt(task.fiber), { concurrency: "unbounded", discard: true })
          yield* Effect.forEach(tasks, (task) => task.message.ack.pipe(Effect.ignore), { discard: true })
          const taskIds = tasks.map((task) => task.taskId)
          yield* Effect.logInfo(`stopped ${tasks.length} task(s) of cancelled run ${notice.runId}`, { taskIds })
          const confirmation = Codec.encode(
            TaskCancelled,
            WireType.TaskCancelled,
            new TaskCancelled({ version: 1, runId: notice.runId, executorId: settings.executorId, pool: settings.pool, taskIds })
          )
          yield* bus.publish(names.taskCancelled(notice.runId), confirmation.data, { headers: confirmation.headers })
        })
      const decodeCancel = Codec.decode(TaskCancel, WireType.TaskCancel)
      const notices = yield* bus.subscribe(names.taskCancelAll)
      // Concurrently: stopping a process stage waits for its process group to exit.
      yield* Effect.forkScoped(
        notices.pipe(
          Stream.mapEffect(
            (message) =>
              decodeCancel(message).pipe(
                Effect.flatMap(stopRun),
                Effect.catchCause((cause) => Effect.logWarning(`handling a cancel notice on ${message.subject} failed`, cause))
              ),
            { concurrency: "unbounded", unordered: true }
          ),
          Stream.runDrain
        )
      )
      const permits = yield* Semaphore.make(settings.slots)
      const guard = makeCrashGuard({
        starts: yield* bus.kv(names.buckets.taskStarts),
        executorId: settings.executorId,
        crashLimit: settings.crashLimit,
        now: () => clock.currentTimeMillisUnsafe()
      })
      const runTask = (message: JobMessage, slots: number, alone: boolean) =>
        handle(message).pipe(
          Effect.catchDefect((defect) =>
            Effect.logError("a task handler failed unexpectedly; the task will be delivered again", {
              subject: message.subject,
              seq: message.seq,
              defect
            }).pipe(Effect.as(nak(redeliverDelay)))
          ),
          Effect.flatMap((decision) => settle(message, decision)),
          // Settled by this replica, however it ended: its starts alone were not crashes.
          alone ? Effect.ensuring(guard.settled(message)) : identity,
          Effect.interruptible,
          Effect.ensuring(permits.release(slots))
        )
      // Tasks are taken in the order they were leased (the stream waits for each dispatch), so a
      // task waiting for every slot is not overtaken; its lease (`waiting`) is kept while it waits.
      const start = (message: JobMessage, slots: number, alone: Effect.Effect<void> | undefined, waiting: Lease) =>
        Effect.uninterruptibleMask((restore) =>
          restore(permits.take(slots)).pipe(
            Effect.ensuring(Effect.sync(() => leases.untrack(waiting))),
            // Leased but not started when the consumer stops: hand it back at once.
            Effect.onInterrupt(() => settle(message, nak())),
            Effect.andThen(alone ?? Effect.void),
            Effect.andThen(FiberSet.run(running, runTask(message, slots, alone !== undefined)))
          )
        )
      const dispatch = (waiting: Lease) => {
        const message = waiting.message
        return message.deliveryCount <= 1
          ? start(message, 1, undefined, waiting)
          : Effect.flatMap(guard.classify(message), (verdict) => {
              if (verdict._tag === "Run") return start(message, 1, undefined, waiting)
              if (verdict._tag === "Alone") {
                return Effect.logInfo(
                  `task on ${message.subject} delivered again (delivery ${message.deliveryCount}): running it alone to rule out a crash it causes`,
                  { seq: message.seq, startsAlone: verdict.starts }
                ).pipe(Effect.andThen(start(message, settings.slots, guard.started(message, verdict.starts), waiting)))
              }
              const reason = guard.poisonReason(message, verdict.crashes)
              return Effect.logError(`dead-lettering a task: ${reason}`, { seq: message.seq }).pipe(
                Effect.andThen(settle(message, term(reason))),
                Effect.andThen(guard.settled(message))
              )
            })
      }

      // Bound to the pool's consumer: for readiness.
      let consuming = false
      const consumeOnce = Effect.scoped(
        Effect.gen(function* () {
          // Idempotent; puts the consumer back if it was deleted while this replica ran.
          yield* bus.ensureConsumer(consumer)
          const messages = yield* bus.consume({ stream: consumer.stream, durable: consumer.durable, slots: settings.slots })
          consuming = true
          yield* Effect.addFinalizer(() => Effect.sync(() => void (consuming = false)))
          // A task keeps its lease from the moment it is leased, not only once dispatched: tasks queued
          // behind one waiting for every slot (a suspect running alone) would otherwise run out their
          // leases unseen, come back as suspects in turn and use up their deliveries. Whatever is still
          // queued when the stream ends is let go, so its lease runs out and another replica takes it.
          const queued = new Set<Lease>()
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              for (const lease of queued) leases.untrack(lease)
              queued.clear()
            })
          )
          yield* messages.pipe(
            Stream.map((message) => {
              const lease = leases.track(message, { seq: message.seq })
              queued.add(lease)
              return lease
            }),
            Stream.buffer({ capacity: "unbounded" }),
            Stream.runForEach((lease) =>
              dispatch(lease).pipe(
                Effect.ensuring(
                  Effect.sync(() => {
                    queued.delete(lease)
                    leases.untrack(lease)
                  })
                )
              )
            )
          )
          yield* Effect.logWarning("the task stream ended; consuming again", { pool: settings.pool })
        })
      )
      yield* Effect.forkScoped(
        consumeOnce.pipe(
          Effect.catch((error) =>
            error.isMissing
              ? // The infrastructure puts the stream back and says so; the next attempt finds it.
                infrastructure.lost(error)
              : Effect.logError("consuming tasks failed; retrying", { pool: settings.pool, error: error.message })
          ),
          Effect.repeat(Schedule.spaced("1 second"))
        )
      )

      yield* Readiness.register({ name: `executor: stage types announced for pool ${settings.pool}`, ready: registration.registered })
      yield* Readiness.register({ name: `executor: consuming tasks of pool ${settings.pool}`, ready: Effect.sync(() => consuming) })
      // Where the pool's queue stands, for its gauges (every replica reports the same figures).
      yield* Effect.forkScoped(
        bus.consumerStats(consumer.stream, consumer.durable).pipe(
          Effect.flatMap((stats) => recordQueue(settings.pool, stats)),
          Effect.ignore,
          Effect.repeat(Schedule.spaced(settings.heartbeatInterval))
        )
      )

      yield* Effect.logInfo(`executor ${settings.executorId} serving pool ${settings.pool}`, {
        slots: settings.slots,
        stageTypes: catalog.definitions().map((definition) => definition.metadata.type)
      })

      return Executor.of({
        pool: settings.pool,
        executorId: settings.executorId,
        inFlight,
        registered: registration.registered,
        served: Effect.sync(registration.served),
        ready: infrastructure.ready
      })
    })
  )
}
