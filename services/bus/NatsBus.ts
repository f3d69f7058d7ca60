/**
 * The bus over NATS: one connection per layer (reconnecting forever, drained
 * when the layer's scope closes), core publish/subscribe and request/reply,
 * JetStream streams and durable pull consumers (created or updated
 * idempotently) as work queues, and JetStream KV buckets; requests,
 * JetStream publishes (KV writes included) and confirmed acks share one
 * reply subscription of the adapter's own (`internal/natsReplies.ts`).
 * nats.js failures are mapped to the port's errors by class and API code.
 * The layer provides its connection too (`NatsConnection`), for the blob
 * store's object store to share.
 *
 * Lost infrastructure: every reconnect is signalled (the server may have come
 * back with an empty store), and a failure that may come from a missing
 * stream, consumer or bucket (a timeout, no responders, a fetch that broke)
 * is checked with the server; when the thing is gone, the error says so
 * (stream- or consumer-not-found code) and the loss is signalled.
 * Works with nats-server 2.9: one filter subject per consumer, no
 * per-message TTLs.
 */
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerConfig as NatsConsumerConfig,
  RetentionPolicy,
  StorageType
} from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect, nanos, type NatsConnection as NatsConnectionType } from "@nats-io/transport-node"
import { Config, Context, Duration, Effect, Layer, Option, PubSub, type Scope, Stream, Queue, type Cause } from "effect"
import {
  Bus,
  type ConsumerConfig,
  type ConsumerStats,
  type Headers,
  type InfrastructureSignal,
  type KvStore,
  type Message,
  type StreamConfig
} from "./Bus.ts"
import { BusError, NoRespondersError, RequestTimeoutError } from "./BusError.ts"
import { invalidBucket, isValidBucket } from "./internal/kvKeys.ts"
import { consume as natsConsume, encodeConsumerDescription } from "./internal/natsConsume.ts"
import { ApiCode, apiCodeOf, isNoResponders, isTimeout, toBusError } from "./internal/natsErrors.ts"
import { fromMsgHdrs, toMsgHdrs } from "./internal/natsHeaders.ts"
import { kvStreamName, makeNatsKvStore } from "./internal/natsKv.ts"
import { makeNatsReplies } from "./internal/natsReplies.ts"

/** Options of the NATS bus. */
export interface NatsBusOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`; comma-separated for several. */
  readonly url: string
  /** Connection name shown by the server (`switchyard` when absent). */
  readonly name?: string
}

const drainTimeout = Duration.seconds(5)
// Subscriptions and requests come per run: their spans skip the stack capture.
const untracedStack = { captureStackTrace: false } as const

const toMessage = (msg: { subject: string; data: Uint8Array; headers?: Parameters<typeof fromMsgHdrs>[0]; reply?: string }): Message => ({
  subject: msg.subject,
  data: msg.data,
  headers: fromMsgHdrs(msg.headers),
  reply: msg.reply === undefined || msg.reply === "" ? undefined : msg.reply
})

const publishOptions = (headers: Headers | undefined) => {
  const hdrs = toMsgHdrs(headers)
  return hdrs === undefined ? undefined : { headers: hdrs }
}

/**
 * Codes of failures a missing stream or consumer also causes: a JetStream request nobody answers
 * (a bucket's direct get times out, a publish finds no responders) or a pull that broke.
 */
const maybeMissing: ReadonlySet<string | undefined> = new Set(["TIMEOUT", "NO_RESPONDERS", "JETSTREAM"])

const updatable = ["ack_wait", "max_deliver", "max_ack_pending", "filter_subject", "description"] as const

const differs = (actual: NatsConsumerConfig, wanted: Partial<NatsConsumerConfig>): boolean =>
  updatable.some((field) => (actual[field] ?? "") !== (wanted[field] ?? ""))

/** Opens a NATS connection for the current scope (drained when it closes). */
const connection = (options: NatsBusOptions): Effect.Effect<NatsConnectionType, BusError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        connect({
          servers: options.url.split(",").map((url) => url.trim()),
          name: options.name ?? "switchyard",
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          // Without this every request (JetStream publishes, KV writes and acks included) builds an
          // Error just to hold a stack for a failure that rarely comes; failures keep their classes.
          noAsyncTraces: true
        }),
      catch: toBusError("connect", options.url)
    }),
    (nc) =>
      Effect.tryPromise(() => nc.drain()).pipe(
        Effect.timeoutOption(drainTimeout),
        Effect.andThen(Effect.tryPromise(() => nc.close())),
        Effect.ignore
      )
  )

/**
 * The connection a NATS bus runs on, provided beside it by `layer` so that
 * adapters of other ports (the blob store) share it instead of opening their own.
 */
export class NatsConnection extends Context.Service<NatsConnection, NatsConnectionType>()("switchyard/bus/NatsConnection") {}

/** Builds the NATS bus on a connection that lives as long as the current scope. */
export const make = Effect.fn("NatsBus.make")(function* (options: NatsBusOptions) {
  return yield* makeOn(yield* connection(options), options)
})

const makeOn = Effect.fnUntraced(function* (nc: NatsConnectionType, options: NatsBusOptions) {
  const jsm = yield* Effect.tryPromise({ try: () => jetstreamManager(nc), catch: toBusError("jetstream", options.url) })
  const js = jetstream(nc)
  const replies = yield* makeNatsReplies(nc)
  const kvm = new Kvm(js)
  const deadLetterSubjects = new Map<string, string>()
  const buckets = new Map<string, KvStore>()
  const signals = yield* Effect.acquireRelease(PubSub.unbounded<InfrastructureSignal>(), PubSub.shutdown)

  // The server may have restarted with an empty store: whoever declared streams, consumers or buckets checks them.
  // (The status iterator ends when the connection closes.)
  // Whether the connection is up, for readiness: down from a disconnect until the reconnect.
  let connected = true
  yield* Stream.fromAsyncIterable(nc.status(), () => undefined).pipe(
    Stream.runForEach((event) =>
      event.type === "disconnect"
        ? Effect.sync(() => void (connected = false))
        : event.type === "reconnect"
          ? Effect.sync(() => void (connected = true)).pipe(Effect.andThen(PubSub.publish(signals, { _tag: "Reconnected" })))
          : Effect.void
    ),
    Effect.ignore,
    Effect.forkScoped
  )

  const gone = (resource: string, operation: string) => PubSub.publish(signals, { _tag: "Missing", resource, operation })

  /** True when the server says the stream (or its consumer) does not exist; undefined when it cannot tell. */
  const missingCode = (stream: string, consumer?: string) =>
    Effect.tryPromise({
      try: (): Promise<unknown> => (consumer === undefined ? jsm.streams.info(stream) : jsm.consumers.info(stream, consumer)),
      catch: (cause) => cause
    }).pipe(
      Effect.match({
        onSuccess: () => undefined,
        onFailure: (cause) => {
          const code = apiCodeOf(cause)
          return code === ApiCode.StreamNotFound || code === ApiCode.ConsumerNotFound ? code : undefined
        }
      })
    )

  /**
   * Checks a failure on `stream` (or its `consumer`) that a missing one may have caused: when the
   * server confirms it is gone, the error carries the not-found code and the loss is signalled.
   */
  const classify =
    (stream: string, consumer?: string) =>
    (error: BusError): Effect.Effect<BusError> => {
      const resource = consumer === undefined ? stream : `${stream}/${consumer}`
      if (error.isMissing) return gone(resource, error.operation).pipe(Effect.as(error))
      if (!maybeMissing.has(error.code)) return Effect.succeed(error)
      return Effect.flatMap(missingCode(stream, consumer), (code) =>
        code === undefined
          ? Effect.succeed(error)
          : gone(resource, error.operation).pipe(
              Effect.as(
                new BusError({
                  operation: error.operation,
                  ...(error.subject === undefined ? {} : { subject: error.subject }),
                  code: String(code),
                  message: `${code === ApiCode.StreamNotFound ? `stream ${stream}` : `consumer ${resource}`} is gone (${error.message})`
                })
              )
            )
      )
    }

  const publish: Bus["Service"]["publish"] = (subject, data, publishOpts) =>
    Effect.try({
      try: () => nc.publish(subject, data, publishOptions(publishOpts?.headers)),
      catch: toBusError("publish", subject)
    })

  const subscribe = Effect.fnUntraced(
    function* (subject: string, subscribeOpts?: { readonly queue?: string; readonly confirm?: boolean }) {
      const queue = yield* Effect.acquireRelease(Queue.unbounded<Message, Cause.Done>(), (queue) => Queue.end(queue))
      yield* Effect.acquireRelease(
        Effect.try({
          try: () =>
            nc.subscribe(subject, {
              ...(subscribeOpts?.queue === undefined ? {} : { queue: subscribeOpts.queue }),
              callback: (error, msg) => {
                if (error === null) Queue.offerUnsafe(queue, toMessage(msg))
                else Queue.endUnsafe(queue)
              }
            }),
          catch: toBusError("subscribe", subject)
        }),
        (subscription) => Effect.sync(() => subscription.unsubscribe())
      )
      // A round trip makes sure the server registered the interest before we return.
      if (subscribeOpts?.confirm !== false) yield* Effect.tryPromise({ try: () => nc.flush(), catch: toBusError("subscribe", subject) })
      return Stream.fromQueue(queue)
    },
    Effect.withSpan("NatsBus.subscribe", undefined, untracedStack)
  )

  const request = Effect.fnUntraced(
    function* (subject: string, data: Uint8Array, requestOpts: { readonly timeout: Duration.Input; readonly headers?: Headers }) {
      const timeoutMs = Duration.toMillis(requestOpts.timeout)
      const hdrs = toMsgHdrs(requestOpts.headers)
      const reply = yield* replies
        .request(subject, data, { timeoutMs, ...(hdrs === undefined ? {} : { headers: hdrs }) })
        .pipe(
          Effect.mapError((cause): BusError | RequestTimeoutError | NoRespondersError =>
            isNoResponders(cause)
              ? new NoRespondersError({ subject })
              : isTimeout(cause)
                ? new RequestTimeoutError({ subject, timeoutMs })
                : toBusError("request", subject)(cause)
          )
        )
      return toMessage(reply)
    },
    Effect.withSpan("NatsBus.request", undefined, untracedStack)
  )

  const respond: Bus["Service"]["respond"] = (message, data, respondOpts) =>
    message.reply === undefined
      ? Effect.fail(
          new BusError({
            operation: "respond",
            subject: message.subject,
            code: "NO_REPLY_SUBJECT",
            message: `message on ${message.subject} is not a request`
          })
        )
      : publish(message.reply, data, respondOpts)

  const ensureStream = Effect.fn("NatsBus.ensureStream")(function* (config: StreamConfig) {
    const natsConfig = {
      name: config.name,
      subjects: [...config.subjects],
      retention: config.retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
      duplicate_window: nanos(Duration.toMillis(config.duplicateWindow)),
      storage: StorageType.File
    }
    const existed = yield* exists(() => jsm.streams.info(config.name), "ensureStream", config.name)
    yield* Effect.tryPromise({
      try: () => jsm.streams.add(natsConfig),
      catch: toBusError("ensureStream", config.name)
    }).pipe(
      Effect.catchIf(
        (error) => error.code === String(ApiCode.StreamNameInUse),
        () =>
          Effect.tryPromise({
            try: () => jsm.streams.update(config.name, natsConfig),
            catch: toBusError("ensureStream", config.name)
          })
      )
    )
    return !existed
  })

  const ensureConsumer = Effect.fn("NatsBus.ensureConsumer")(function* (config: ConsumerConfig) {
    const where = `${config.stream}/${config.durable}`
    const natsConfig: Partial<NatsConsumerConfig> = {
      durable_name: config.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(Duration.toMillis(config.ackWait)),
      max_deliver: config.maxDeliver > 0 ? config.maxDeliver : -1,
      max_ack_pending: config.maxAckPending > 0 ? config.maxAckPending : -1,
      filter_subject: config.filterSubject,
      ...(config.deadLetterSubject === undefined ? {} : { description: encodeConsumerDescription(config.deadLetterSubject) })
    }
    const existed = yield* exists(() => jsm.consumers.info(config.stream, config.durable), "ensureConsumer", where)
    const update = Effect.tryPromise({
      try: () => jsm.consumers.update(config.stream, config.durable, natsConfig),
      catch: toBusError("ensureConsumer", where)
    })
    // nats-server 2.9 answers a create of an existing durable with its old config; newer
    // servers refuse it. Either way a differing consumer is then updated.
    const created = yield* Effect.tryPromise({
      try: () => jsm.consumers.add(config.stream, natsConfig),
      catch: (cause) => cause
    }).pipe(
      Effect.map((info) => info.config),
      Effect.catch((cause) => {
        const code = apiCodeOf(cause)
        return code === ApiCode.ConsumerAlreadyExists || code === ApiCode.ConsumerNameExists
          ? Effect.succeed(undefined)
          : Effect.fail(toBusError("ensureConsumer", where)(cause))
      })
    )
    if (created === undefined || differs(created, natsConfig)) yield* update
    if (config.deadLetterSubject === undefined) deadLetterSubjects.delete(where)
    else deadLetterSubjects.set(where, config.deadLetterSubject)
    return !existed
  })

  /** Whether the server has the stream or consumer `info` asks about: false when it answers not found. */
  const exists = (info: () => Promise<unknown>, operation: string, where: string) =>
    Effect.tryPromise({ try: info, catch: (cause) => cause }).pipe(
      Effect.as(true),
      Effect.catch((cause) => {
        const code = apiCodeOf(cause)
        return code === ApiCode.StreamNotFound || code === ApiCode.ConsumerNotFound
          ? Effect.succeed(false)
          : Effect.fail(toBusError(operation, where)(cause))
      })
    )

  const enqueue: Bus["Service"]["enqueue"] = (subject, data, enqueueOpts) => {
    const hdrs = toMsgHdrs(enqueueOpts?.headers)
    return replies
      .publish(subject, data, {
        ...(enqueueOpts?.msgId === undefined ? {} : { msgId: enqueueOpts.msgId }),
        ...(hdrs === undefined ? {} : { headers: hdrs })
      })
      .pipe(
        Effect.mapError((cause) =>
          isNoResponders(cause)
            ? new BusError({ operation: "enqueue", subject, code: "NO_STREAM", message: `no stream captures ${subject}` })
            : toBusError("enqueue", subject)(cause)
        ),
        Effect.tapError((error) => (error.isMissing ? gone(subject, "enqueue") : Effect.void))
      )
  }

  const consumerStats = (stream: string, durable: string) =>
    Effect.tryPromise({ try: () => jsm.consumers.info(stream, durable), catch: toBusError("consumerStats", `${stream}/${durable}`) }).pipe(
      Effect.map((info): ConsumerStats => ({
        waiting: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered
      }))
    )

  const kv = Effect.fn("NatsBus.kv")(function* (bucket: string) {
    if (!isValidBucket(bucket)) return yield* invalidBucket(bucket)
    const cached = buckets.get(bucket)
    if (cached !== undefined) return cached
    const handle = yield* Effect.tryPromise({ try: () => kvm.create(bucket, { history: 1 }), catch: toBusError("kv", bucket) })
    const store = makeNatsKvStore(handle, bucket, replies, jsm, classify(kvStreamName(bucket)))
    buckets.set(bucket, store)
    return store
  })

  const ensureBucket = Effect.fn("NatsBus.ensureBucket")(function* (bucket: string) {
    if (!isValidBucket(bucket)) return yield* invalidBucket(bucket)
    const existed = yield* exists(() => jsm.streams.info(kvStreamName(bucket)), "ensureBucket", bucket)
    if (!existed) yield* Effect.tryPromise({ try: () => kvm.create(bucket, { history: 1 }), catch: toBusError("ensureBucket", bucket) })
    return !existed
  })

  return Bus.of({
    kind: "nats",
    connected: Effect.sync(() => connected && !nc.isClosed()),
    // The server's INFO, which a reconnect to another server of a cluster may change.
    maxPayload: Effect.sync(() => Option.fromNullishOr(nc.info?.max_payload)),
    publish,
    subscribe,
    request,
    respond,
    ensureStream,
    ensureConsumer,
    ensureBucket,
    infrastructure: PubSub.subscribe(signals).pipe(Effect.map(Stream.fromSubscription)),
    enqueue,
    consume: (consumeOpts) =>
      natsConsume({ nc, replies, js, jsm, deadLetterSubjects, classify: classify(consumeOpts.stream, consumeOpts.durable) }, consumeOpts),
    consumerStats,
    kv
  })
})

/** The NATS bus connected to `options.url`, and its connection. */
export const layer = (options: NatsBusOptions): Layer.Layer<Bus | NatsConnection, BusError> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const nc = yield* connection(options)
      const bus = yield* makeOn(nc, options)
      return Context.make(Bus, bus).pipe(Context.add(NatsConnection, nc))
    })
  )

/** The NATS bus connected to `SWITCHYARD_NATS_URL`, and its connection. */
export const layerConfig: Layer.Layer<Bus | NatsConnection, BusError | Config.ConfigError> = Layer.unwrap(
  Effect.map(Config.String("SWITCHYARD_NATS_URL"), (url) => layer({ url }))
)
