/**
 * The in-process bus: the embedded default, with the semantics of NATS and
 * JetStream that Switchyard relies on. Core subjects with `*` and `>`
 * wildcards and queue groups; request/reply with timeouts and no-responders;
 * streams that capture their subjects (from `publish` and `enqueue` alike)
 * with a duplicate window; durable pull consumers shared by every caller of
 * `consume` with the same name (acks, naks with delay, ack-wait redelivery,
 * in-progress acks, max deliveries and terms reported on the dead-letter
 * subject); and KV buckets with compare-and-set and watch. Delivery is
 * synchronous into per-subscriber queues; timers follow the Clock, so tests
 * can drive them with `TestClock`.
 */
import { Cause, Clock, Deferred, Duration, Effect, Exit, Layer, Queue, Scope, Stream } from "effect"
import {
  Bus,
  type ConsumeOptions,
  type ConsumerConfig,
  type Headers,
  type JobMessage,
  type KvStore,
  type Message,
  type PublishAck,
  type StreamConfig
} from "./Bus.ts"
import { BusError, NoRespondersError, RequestTimeoutError } from "./BusError.ts"
import { MemoryConsumer } from "./internal/memoryConsumer.ts"
import { invalidBucket, isValidBucket } from "./internal/kvKeys.ts"
import { makeMemoryKvStore } from "./internal/memoryKv.ts"
import { makeSubscriber, MemoryRouter } from "./internal/memoryRouter.ts"
import { MemoryStream } from "./internal/memoryStream.ts"
import { Deadlines } from "./timers/index.ts"
import { SubjectIndex } from "./internal/subjectIndex.ts"
import { isValidPublishSubject, isValidSubscribeSubject, subjectsCollide } from "./internal/subjectMatch.ts"

const noHeaders: Headers = Object.freeze({})
// Subscriptions and requests come per run: their spans skip the stack capture.
const untracedStack = { captureStackTrace: false } as const
const validName = /^[^.*>\s]+$/

/** Builds an in-memory bus whose timers live as long as the current scope. */
export const make: Effect.Effect<Bus["Service"], never, Scope.Scope> = Effect.gen(function* () {
  const scope = yield* Scope.Scope
  const router = new MemoryRouter()
  const streams = new Map<string, MemoryStream>()
  const buckets = new Map<string, KvStore>()
  // Which stream captures a subject, by the streams' subject patterns.
  const captures = new SubjectIndex<MemoryStream>()
  let inboxCounter = 0
  // Every request's timeout on one timer fiber, driven by the bus's clock.
  const deadlines = new Deadlines(yield* Clock.Clock)
  yield* Effect.forkIn(deadlines.timer.run, scope)
  const inboxPrefix = `_INBOX.${Math.random().toString(36).slice(2)}.`

  const streamFor = (subject: string): MemoryStream | undefined => captures.find(subject)

  const badSubject = (operation: string, subject: string) =>
    new BusError({ operation, subject, code: "BAD_SUBJECT", message: `invalid subject "${subject}"` })

  // Core delivery: subscribers, then the stream capturing the subject (as a NATS server does).
  const route = (subject: string, data: Uint8Array, headers: Headers, reply: string | undefined, now: () => number) => {
    router.route({ subject, data, headers, reply })
    const stream = streamFor(subject)
    if (stream !== undefined) stream.store(subject, data, headers, headers["Nats-Msg-Id"], now())
  }

  const publishDeadLetter = (clock: Clock.Clock) => (subject: string, record: Uint8Array) =>
    route(subject, record, noHeaders, undefined, () => clock.currentTimeMillisUnsafe())

  const publish: Bus["Service"]["publish"] = (subject, data, options) =>
    Effect.clockWith((clock) => {
      if (!isValidPublishSubject(subject)) return Effect.fail(badSubject("publish", subject))
      route(subject, data, options?.headers ?? noHeaders, undefined, () => clock.currentTimeMillisUnsafe())
      return Effect.void
    })

  const subscribe = Effect.fnUntraced(
    // Subscribing is synchronous here, so every subscription is confirmed at once.
    function* (subject: string, options?: { readonly queue?: string; readonly confirm?: boolean }) {
      if (!isValidSubscribeSubject(subject)) return yield* badSubject("subscribe", subject)
      const queue = yield* Queue.unbounded<Message, Cause.Done>()
      const subscriber = makeSubscriber(subject, options?.queue, (message) => Queue.offerUnsafe(queue, message))
      yield* Effect.acquireRelease(
        Effect.sync(() => router.add(subscriber)),
        () =>
          Effect.sync(() => {
            router.remove(subscriber)
            Queue.endUnsafe(queue)
          })
      )
      return Stream.fromQueue(queue)
    },
    Effect.withSpan("MemoryBus.subscribe", undefined, untracedStack)
  )

  const request: Bus["Service"]["request"] = (subject, data, options) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.clockWith((clock): Effect.Effect<Message, BusError | RequestTimeoutError | NoRespondersError> => {
        if (!isValidPublishSubject(subject)) return Effect.fail(badSubject("request", subject))
        if (!router.hasInterest(subject)) return Effect.fail(new NoRespondersError({ subject }))
        const timeoutMs = Duration.toMillis(options.timeout)
        const reply = Deferred.makeUnsafe<Message, RequestTimeoutError>()
        const inbox = `${inboxPrefix}${++inboxCounter}`
        const subscriber = makeSubscriber(inbox, undefined, (message) => Deferred.doneUnsafe(reply, Exit.succeed(message)))
        router.add(subscriber)
        const pending = deadlines.add(timeoutMs, () =>
          Deferred.doneUnsafe(reply, Exit.fail(new RequestTimeoutError({ subject, timeoutMs })))
        )
        route(subject, data, options.headers ?? noHeaders, inbox, () => clock.currentTimeMillisUnsafe())
        return Effect.onExit(restore(Deferred.await(reply)), () =>
          Effect.sync(() => {
            router.remove(subscriber)
            deadlines.remove(pending)
          })
        )
      })
    ).pipe(Effect.withSpan("MemoryBus.request", undefined, untracedStack))

  const respond: Bus["Service"]["respond"] = (message, data, options) =>
    Effect.clockWith((clock) => {
      if (message.reply === undefined) {
        return Effect.fail(
          new BusError({
            operation: "respond",
            subject: message.subject,
            code: "NO_REPLY_SUBJECT",
            message: `message on ${message.subject} is not a request`
          })
        )
      }
      route(message.reply, data, options?.headers ?? noHeaders, undefined, () => clock.currentTimeMillisUnsafe())
      return Effect.void
    })

  const ensureStream = Effect.fn("MemoryBus.ensureStream")(function* (config: StreamConfig) {
    if (!validName.test(config.name)) {
      return yield* new BusError({ operation: "ensureStream", code: "BAD_NAME", message: `invalid stream name "${config.name}"` })
    }
    for (const other of streams.values()) {
      if (other.name === config.name) continue
      const overlap = config.subjects.find((mine) => other.config.subjects.some((theirs) => subjectsCollide(mine, theirs)))
      if (overlap !== undefined) {
        return yield* new BusError({
          operation: "ensureStream",
          subject: overlap,
          code: "10065",
          message: `subjects of stream ${config.name} overlap those of stream ${other.name}`
        })
      }
    }
    const existing = streams.get(config.name)
    if (existing === undefined) streams.set(config.name, new MemoryStream(config))
    else existing.reconfigure(config)
    captures.clear()
    for (const stream of streams.values()) for (const subject of stream.config.subjects) captures.add(subject, stream)
    return existing === undefined
  })

  const ensureConsumer = Effect.fn("MemoryBus.ensureConsumer")(function* (config: ConsumerConfig) {
    const stream = streams.get(config.stream)
    if (stream === undefined) {
      return yield* new BusError({ operation: "ensureConsumer", code: "10059", message: `stream ${config.stream} not found` })
    }
    if (!validName.test(config.durable)) {
      return yield* new BusError({ operation: "ensureConsumer", code: "BAD_NAME", message: `invalid consumer name "${config.durable}"` })
    }
    if (stream.config.retention === "workqueue") {
      for (const other of stream.consumers.values()) {
        if (other.config.durable === config.durable) continue
        if (subjectsCollide(other.config.filterSubject || ">", config.filterSubject || ">")) {
          return yield* new BusError({
            operation: "ensureConsumer",
            subject: config.filterSubject,
            code: "10100",
            message: `filter of consumer ${config.durable} overlaps consumer ${other.config.durable} on workqueue stream ${stream.name}`
          })
        }
      }
    }
    const existing = stream.consumers.get(config.durable)
    if (existing !== undefined) {
      existing.reconfigure(config)
      return false
    }
    const clock = yield* Clock.Clock
    const consumer = new MemoryConsumer({ stream, config, clock, deadLetter: publishDeadLetter(clock) })
    stream.consumers.set(config.durable, consumer)
    yield* Effect.forkIn(consumer.timer, scope)
    return true
  })

  const enqueue: Bus["Service"]["enqueue"] = (subject, data, options) =>
    Effect.clockWith((clock): Effect.Effect<PublishAck, BusError> => {
      const stream = isValidPublishSubject(subject) ? streamFor(subject) : undefined
      if (stream === undefined) {
        return Effect.fail(new BusError({ operation: "enqueue", subject, code: "NO_STREAM", message: `no stream captures ${subject}` }))
      }
      const headers = options?.headers ?? noHeaders
      router.route({ subject, data, headers, reply: undefined })
      return Effect.succeed(stream.store(subject, data, headers, options?.msgId, clock.currentTimeMillisUnsafe()))
    })

  const consume = Effect.fn("MemoryBus.consume")(function* (options: ConsumeOptions) {
    const consumer = streams.get(options.stream)?.consumers.get(options.durable)
    if (consumer === undefined) {
      return yield* new BusError({
        operation: "consume",
        code: "10014",
        message: `consumer ${options.durable} of stream ${options.stream} not found`
      })
    }
    if (options.slots < 1) {
      return yield* new BusError({
        operation: "consume",
        subject: `${options.stream}/${options.durable}`,
        code: "BAD_ARGUMENT",
        message: "slots must be at least 1"
      })
    }
    const queue = yield* Queue.unbounded<JobMessage, Cause.Done>()
    const caller = { slots: options.slots, held: 0, offer: (job: JobMessage) => Queue.offerUnsafe(queue, job) }
    yield* Effect.acquireRelease(
      Effect.sync(() => consumer.addCaller(caller)),
      () =>
        Effect.sync(() => {
          consumer.removeCaller(caller)
          Queue.endUnsafe(queue)
        })
    )
    return Stream.fromQueue(queue)
  })

  const consumerStats = (stream: string, durable: string) =>
    Effect.suspend(() => {
      const consumer = streams.get(stream)?.consumers.get(durable)
      return consumer === undefined
        ? Effect.fail(
            new BusError({ operation: "consumerStats", code: "10014", message: `consumer ${durable} of stream ${stream} not found` })
          )
        : Effect.succeed(consumer.stats())
    })

  const kv = Effect.fn("MemoryBus.kv")(function* (bucket: string) {
    if (!isValidBucket(bucket)) return yield* invalidBucket(bucket)
    let store = buckets.get(bucket)
    if (store === undefined) {
      store = makeMemoryKvStore(bucket)
      buckets.set(bucket, store)
    }
    return store
  })

  const ensureBucket = Effect.fn("MemoryBus.ensureBucket")(function* (bucket: string) {
    const existed = buckets.has(bucket)
    yield* kv(bucket)
    return !existed
  })

  return Bus.of({
    kind: "memory",
    connected: Effect.succeed(true),
    maxPayload: Effect.succeedNone,
    publish,
    subscribe,
    request,
    respond,
    ensureStream,
    ensureConsumer,
    ensureBucket,
    // Nothing held in memory is lost while the process lives.
    infrastructure: Effect.succeed(Stream.never),
    enqueue,
    consume,
    consumerStats,
    kv
  })
})

/** The in-memory bus as a layer. */
export const layer: Layer.Layer<Bus> = Layer.effect(Bus, make)
