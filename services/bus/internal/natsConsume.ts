/**
 * Leasing from a durable JetStream pull consumer with a bound on what one
 * caller holds: a loop fetches no more messages than the caller has free
 * slots, a slot frees when its message is acked, naked or terminated, and
 * fetch failures (a restarting server, a missing consumer) are retried with a
 * pause rather than ending the stream (a consumer that is gone is logged once
 * per outage and signalled by the adapter, so its owner recreates it; the
 * loop then leases from the new one). Terminated messages are dead-lettered
 * by the adapter itself; messages that exhaust their deliveries are reported
 * by the server's max-deliveries advisory, which one caller per durable (a
 * queue group) turns into a dead letter, removing the message from a
 * workqueue stream afterwards.
 */
import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { Cause, Clock, Deferred, Duration, Effect, Exit, Option, Queue, Schema, type Scope, Stream } from "effect"
import type { ConsumeOptions, Headers, JobMessage } from "../Bus.ts"
import { BusError } from "../BusError.ts"
import { encodeDeadLetter, maxDeliveriesReason, terminatedReason } from "./deadLetter.ts"
import { toBusError } from "./natsErrors.ts"
import { fromMsgHdrs } from "./natsHeaders.ts"
import type { NatsReplies } from "./natsReplies.ts"
import { TimerLoop } from "../timers/index.ts"

/** How long one pull request waits for messages before it is renewed. */
const fetchExpiresMs = 5_000
const fetchHeartbeatMs = 1_000
const firstRetryMs = 250
const maxRetryMs = 5_000

/** Queue group of the advisory listeners, so one replica reports each dead message. */
const deadLetterGroup = "switchyard-dead-letters"

/** JetStream's advisory subject for a consumer's exhausted messages (a server name, not a Switchyard subject). */
const maxDeliveriesAdvisory = (stream: string, consumer: string) => `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`

const MaxDeliveriesAdvisory = Schema.fromJsonString(
  Schema.Struct({
    stream: Schema.String,
    consumer: Schema.String,
    stream_seq: Schema.Number,
    deliveries: Schema.Number
  })
)
const decodeAdvisory = Schema.decodeUnknownOption(MaxDeliveriesAdvisory)

/** Consumer description carrying the dead-letter subject (consumer metadata needs nats-server 2.10). */
const ConsumerDescription = Schema.fromJsonString(Schema.Struct({ deadLetterSubject: Schema.String }))

/** Encodes the consumer description for a dead-letter subject. */
export const encodeConsumerDescription = (deadLetterSubject: string): string =>
  Schema.encodeSync(ConsumerDescription)({ deadLetterSubject })

/** Reads the dead-letter subject back from a consumer description. */
export const decodeConsumerDescription = (description: string | undefined): string | undefined =>
  description === undefined
    ? undefined
    : Option.getOrUndefined(Option.map(Schema.decodeUnknownOption(ConsumerDescription)(description), (d) => d.deadLetterSubject))

/** What `consume` needs from the adapter. */
export interface NatsConsumeContext {
  readonly nc: NatsConnection
  readonly replies: NatsReplies
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  /** Dead-letter subjects of consumers ensured by this process, by `stream/durable`. */
  readonly deadLetterSubjects: ReadonlyMap<string, string>
  /** Tells (and signals) whether a failure came from the consumer or its stream being gone. */
  readonly classify: (error: BusError) => Effect.Effect<BusError>
}

/** Free slots of one caller; the fetch loop takes them all and waits when none are left. */
class SlotGate {
  private free: number
  private waiter: Deferred.Deferred<void> | undefined = undefined

  constructor(slots: number) {
    this.free = slots
  }

  takeAll(): Effect.Effect<number> {
    return Effect.suspend(() => {
      if (this.free > 0) {
        const taken = this.free
        this.free = 0
        return Effect.succeed(taken)
      }
      const waiter = Deferred.makeUnsafe<void>()
      this.waiter = waiter
      return Deferred.await(waiter).pipe(Effect.andThen(this.takeAll()))
    })
  }

  release(count: number): void {
    if (count <= 0) return
    this.free += count
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      Deferred.doneUnsafe(waiter, Exit.void)
    }
  }
}

/**
 * The caller's unsettled messages in deadline order. A message whose ack wait
 * passes unsettled is redelivered by the server to someone else, so it frees
 * its slot here too (as the memory bus does).
 */
class Leases {
  readonly timer: TimerLoop
  private readonly gate: SlotGate
  private readonly ackWaitMs: number
  private readonly jobs = new Set<NatsJob>()

  constructor(clock: Clock.Clock, gate: SlotGate, ackWaitMs: number) {
    this.gate = gate
    this.ackWaitMs = ackWaitMs
    this.timer = new TimerLoop(clock, (now) => this.expire(now))
  }

  /** Starts a lease; returns its deadline. */
  add(job: NatsJob): number {
    const deadline = this.timer.now() + this.ackWaitMs
    this.jobs.add(job)
    this.timer.arm(deadline)
    return deadline
  }

  /** Restarts a lease's ack wait; returns the new deadline. */
  extend(job: NatsJob): number {
    this.jobs.delete(job)
    this.jobs.add(job)
    return this.timer.now() + this.ackWaitMs
  }

  /** Ends a lease and frees its slot (once). */
  settle(job: NatsJob): void {
    if (this.jobs.delete(job)) this.gate.release(1)
  }

  private expire(now: number): number | undefined {
    for (const job of this.jobs) {
      if (job.deadline > now) return job.deadline
      this.settle(job)
    }
    return undefined
  }
}

interface JobContext {
  readonly nc: NatsConnection
  readonly replies: NatsReplies
  readonly stream: string
  readonly durable: string
  readonly deadLetterSubject: string | undefined
  readonly gate: SlotGate
  readonly leases: Leases
  readonly classify: (error: BusError) => Effect.Effect<BusError>
}

/** One delivery of a JetStream message. */
class NatsJob implements JobMessage {
  readonly subject: string
  readonly data: Uint8Array
  readonly headers: Headers
  readonly seq: number
  readonly deliveryCount: number
  deadline: number
  private readonly msg: JsMsg
  private readonly context: JobContext

  constructor(msg: JsMsg, context: JobContext) {
    this.msg = msg
    this.context = context
    this.subject = msg.subject
    this.data = msg.data
    this.headers = fromMsgHdrs(msg.headers)
    this.seq = msg.seq
    this.deliveryCount = msg.info.deliveryCount
    this.deadline = context.leases.add(this)
  }

  private settle(): void {
    this.context.leases.settle(this)
  }

  get ack(): Effect.Effect<void, BusError> {
    return Effect.suspend(() => {
      this.settle()
      // nats.js's delivered messages carry their ack subject as `reply`, though its `JsMsg` type leaves it out.
      const reply = (this.msg as { readonly reply?: unknown }).reply
      return typeof reply === "string" && reply !== ""
        ? this.context.replies.ackAck(reply).pipe(Effect.mapError(toBusError("ack", this.subject)))
        : Effect.tryPromise({ try: () => this.msg.ackAck(), catch: toBusError("ack", this.subject) }).pipe(Effect.asVoid)
    })
  }

  get nak(): (delay?: Duration.Input) => Effect.Effect<void, BusError> {
    return (delay) =>
      Effect.try({
        try: () => {
          this.settle()
          this.msg.nak(delay === undefined ? undefined : Duration.toMillis(delay))
        },
        catch: toBusError("nak", this.subject)
      })
  }

  get term(): (reason: string) => Effect.Effect<void, BusError> {
    // The dead letter goes out before the term: a crash in between redelivers rather than loses it.
    return (reason) =>
      Effect.try({
        try: () => {
          const { deadLetterSubject, durable, nc, stream } = this.context
          if (deadLetterSubject !== undefined) {
            nc.publish(
              deadLetterSubject,
              encodeDeadLetter({
                stream,
                consumer: durable,
                seq: this.seq,
                subject: this.subject,
                deliveries: this.deliveryCount,
                reason: terminatedReason(reason),
                data: this.data,
                headers: this.headers,
                maxBytes: nc.info?.max_payload
              })
            )
          }
          this.settle()
          // nats-server 2.9 only knows a bare +TERM; the reason travels in the dead letter.
          this.msg.term()
        },
        catch: toBusError("term", this.subject)
      })
  }

  get working(): Effect.Effect<void, BusError> {
    return Effect.try({
      try: () => {
        this.msg.working()
        this.deadline = this.context.leases.extend(this)
      },
      catch: toBusError("working", this.subject)
    })
  }
}

const fetchLoop = (consumer: Consumer, context: JobContext, queue: Queue.Queue<JobMessage, Cause.Done>) =>
  Effect.gen(function* () {
    let retryMs = firstRetryMs
    // Whether the consumer was found gone since the last fetch that worked: said once, not per retry.
    let missing = false
    while (true) {
      const wanted = yield* context.gate.takeAll()
      let received = 0
      const result = yield* Effect.scoped(
        Effect.gen(function* () {
          const batch = yield* Effect.acquireRelease(
            Effect.tryPromise({
              try: () => consumer.fetch({ max_messages: wanted, expires: fetchExpiresMs, idle_heartbeat: fetchHeartbeatMs }),
              catch: toBusError("consume.fetch", `${context.stream}/${context.durable}`)
            }),
            (batch) => Effect.sync(() => batch.stop())
          )
          yield* Stream.fromAsyncIterable(batch, toBusError("consume.fetch", `${context.stream}/${context.durable}`)).pipe(
            Stream.runForEach((msg) =>
              Effect.sync(() => {
                received++
                Queue.offerUnsafe(queue, new NatsJob(msg, context))
              })
            )
          )
        })
      ).pipe(Effect.exit)
      context.gate.release(wanted - received)
      // A closed connection never comes back: end the stream instead of retrying.
      if (context.nc.isClosed() || context.nc.isDraining()) return yield* Queue.end(queue)
      if (Exit.isSuccess(result)) {
        retryMs = firstRetryMs
        missing = false
      } else {
        const squashed = Cause.squash(result.cause)
        const error = squashed instanceof BusError ? yield* context.classify(squashed) : squashed
        const annotations = {
          stream: context.stream,
          consumer: context.durable,
          error: error instanceof Error ? error.message : String(error),
          retryInMs: retryMs
        }
        if (error instanceof BusError && error.isMissing) {
          yield* (missing ? Effect.logDebug : Effect.logWarning)(
            `the ${error.code === "10059" ? "stream" : "consumer"} is gone; fetching again once it is recreated`
          ).pipe(Effect.annotateLogs(annotations))
          missing = true
        } else {
          yield* Effect.logWarning("fetch from consumer failed; retrying").pipe(Effect.annotateLogs(annotations))
        }
        yield* Effect.sleep(Duration.millis(retryMs))
        retryMs = Math.min(retryMs * 2, maxRetryMs)
      }
    }
  })

const reportExhausted = (
  context: NatsConsumeContext & JobContext,
  retention: string,
  advisory: { readonly stream_seq: number; readonly deliveries: number }
) =>
  Effect.gen(function* () {
    const { deadLetterSubject, durable, jsm, nc, stream } = context
    const stored = yield* Effect.tryPromise({
      try: () => jsm.streams.getMessage(stream, { seq: advisory.stream_seq }),
      catch: toBusError("deadLetter.read", stream)
    }).pipe(Effect.orElseSucceed(() => null))
    if (deadLetterSubject !== undefined) {
      yield* Effect.try({
        try: () =>
          nc.publish(
            deadLetterSubject,
            encodeDeadLetter({
              stream,
              consumer: durable,
              seq: advisory.stream_seq,
              subject: stored?.subject ?? "",
              deliveries: advisory.deliveries,
              reason: maxDeliveriesReason,
              data: stored?.data,
              headers: fromMsgHdrs(stored?.header),
              maxBytes: nc.info?.max_payload
            })
          ),
        catch: toBusError("deadLetter.publish", deadLetterSubject)
      })
    }
    if (stored !== null && retention === "workqueue") {
      yield* Effect.tryPromise({
        try: () => jsm.streams.deleteMessage(stream, advisory.stream_seq, false),
        catch: toBusError("deadLetter.delete", stream)
      })
    }
  }).pipe(
    Effect.catch((error) =>
      Effect.logWarning("could not dead-letter an exhausted message").pipe(Effect.annotateLogs({ error: String(error) }))
    )
  )

const listenForExhausted = (context: NatsConsumeContext & JobContext, retention: string) =>
  Effect.gen(function* () {
    const advisories = yield* Queue.unbounded<Uint8Array, Cause.Done>()
    yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          context.nc.subscribe(maxDeliveriesAdvisory(context.stream, context.durable), {
            queue: deadLetterGroup,
            callback: (error, msg) => {
              if (error === null) Queue.offerUnsafe(advisories, msg.data)
            }
          }),
        catch: toBusError("consume.advisories", context.stream)
      }),
      (subscription) => Effect.sync(() => subscription.unsubscribe())
    )
    yield* Stream.fromQueue(advisories).pipe(
      Stream.runForEach((data) =>
        Option.match(decodeAdvisory(new TextDecoder().decode(data)), {
          onNone: () => Effect.void,
          onSome: (advisory) => reportExhausted(context, retention, advisory)
        })
      ),
      Effect.forkScoped
    )
  })

/** Starts leasing for one caller; the stream ends when the scope closes. */
export const consume = (
  context: NatsConsumeContext,
  options: ConsumeOptions
): Effect.Effect<Stream.Stream<JobMessage>, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const { durable, stream } = options
    const where = `${stream}/${durable}`
    if (options.slots < 1) {
      return yield* new BusError({ operation: "consume", subject: where, code: "BAD_ARGUMENT", message: "slots must be at least 1" })
    }
    const consumer = yield* Effect.tryPromise({
      try: () => context.js.consumers.get(stream, durable),
      catch: toBusError("consume", where)
    }).pipe(Effect.catch((error) => Effect.flatMap(context.classify(error), Effect.fail)))
    const info = yield* Effect.tryPromise({ try: () => consumer.info(true), catch: toBusError("consume", where) })
    const streamInfo = yield* Effect.tryPromise({ try: () => context.jsm.streams.info(stream), catch: toBusError("consume", where) })
    const deadLetterSubject = context.deadLetterSubjects.get(where) ?? decodeConsumerDescription(info.config.description)
    const gate = new SlotGate(options.slots)
    // 30 s is the server default when a consumer has no ack wait of its own.
    const leases = new Leases(yield* Clock.Clock, gate, (info.config.ack_wait ?? 30_000_000_000) / 1_000_000)
    const jobContext: JobContext = {
      nc: context.nc,
      replies: context.replies,
      stream,
      durable,
      deadLetterSubject,
      gate,
      leases,
      classify: context.classify
    }
    const queue = yield* Effect.acquireRelease(Queue.unbounded<JobMessage, Cause.Done>(), (queue) => Queue.end(queue))
    yield* listenForExhausted({ ...context, ...jobContext }, streamInfo.config.retention)
    yield* Effect.forkScoped(leases.timer.run)
    yield* Effect.forkScoped(fetchLoop(consumer, jobContext, queue))
    return Stream.fromQueue(queue)
  })
