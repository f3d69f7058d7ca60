/**
 * Requests of the NATS adapter's hot paths over one reply subscription of its
 * own per connection: core requests, JetStream publishes (a work queue's
 * enqueue, a KV bucket's writes) and acks that wait for the server's
 * confirmation. nats.js's own request path builds an error, stack trace and
 * all, for every request it answers (it cancels the answered request, and
 * the cancel rejects an already settled promise with a new error); on a
 * durable one-stage run that was about a fifth of its sequential latency.
 * Replies are matched by the token that ends their subject; timeouts are
 * deadlines on one Clock-driven timer. Failures are nats.js's own error
 * classes (`TimeoutError`, a `RequestError` caused by `NoRespondersError`,
 * `JetStreamApiError`), so `natsErrors.ts` maps them as it maps the rest.
 */
import { type ApiError, JetStreamApiError } from "@nats-io/jetstream"
import {
  createInbox,
  headers as makeHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  RequestError,
  TimeoutError
} from "@nats-io/transport-node"
import { Clock, Effect, Result, type Scope } from "effect"
import { Deadlines } from "../timers/index.ts"

/** How long a JetStream publish or a confirmed ack waits for the server (nats.js's default). */
const jetStreamTimeoutMs = 5_000

/** What a JetStream publish takes besides its subject and data. */
export interface JetStreamPublishOptions {
  readonly msgId?: string
  /** The subject's last sequence the stream must have (0: no message yet), for compare-and-set. */
  readonly expectedLastSubjectSequence?: number
  readonly headers?: MsgHdrs
}

/** A stream's acknowledgement of a publish. */
export interface PubAck {
  readonly seq: number
  readonly duplicate: boolean
}

/** Requests over the adapter's reply subscription. */
export interface NatsReplies {
  /** Sends `data` to `subject` and waits up to `timeoutMs` for one reply. */
  readonly request: (
    subject: string,
    data: Uint8Array,
    options: { readonly timeoutMs: number; readonly headers?: MsgHdrs }
  ) => Effect.Effect<Msg, unknown>
  /** Publishes into the stream that captures `subject` and waits for its acknowledgement. */
  readonly publish: (subject: string, data: Uint8Array, options?: JetStreamPublishOptions) => Effect.Effect<PubAck, unknown>
  /** Acks a JetStream delivery by its reply subject and waits for the server to confirm it. */
  readonly ackAck: (ackSubject: string) => Effect.Effect<void, unknown>
}

const textDecoder = new TextDecoder()
const ack = new TextEncoder().encode("+ACK")

interface PubAckBody {
  readonly seq?: number
  readonly duplicate?: boolean
  readonly error?: ApiError
}

/** The stream's answer to a publish: its acknowledgement, or the API error it carries. */
const readPubAck = (msg: Msg): Result.Result<PubAck, unknown> =>
  Result.flatMap(
    Result.try(() => JSON.parse(textDecoder.decode(msg.data)) as PubAckBody),
    (body) =>
      body.error === undefined
        ? Result.succeed({ seq: body.seq ?? 0, duplicate: body.duplicate === true })
        : Result.fail(new JetStreamApiError(body.error))
  )

const publishHeaders = (options: JetStreamPublishOptions | undefined): MsgHdrs | undefined => {
  if (options?.msgId === undefined && options?.expectedLastSubjectSequence === undefined) return options?.headers
  const hdrs = options.headers ?? makeHeaders()
  if (options.msgId !== undefined) hdrs.set("Nats-Msg-Id", options.msgId)
  if (options.expectedLastSubjectSequence !== undefined) {
    hdrs.set("Nats-Expected-Last-Subject-Sequence", String(options.expectedLastSubjectSequence))
  }
  return hdrs
}

/** Subscribes the connection's reply inbox for the scope. */
export const makeNatsReplies = (nc: NatsConnection): Effect.Effect<NatsReplies, never, Scope.Scope> =>
  Effect.gen(function* () {
    const prefix = `${createInbox()}.`
    const pending = new Map<string, (msg: Msg) => void>()
    const deadlines = new Deadlines(yield* Clock.Clock)
    yield* Effect.forkScoped(deadlines.timer.run)
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        nc.subscribe(`${prefix}*`, {
          callback: (error, msg) => {
            if (error === null) pending.get(msg.subject.slice(prefix.length))?.(msg)
          }
        })
      ),
      (subscription) => Effect.sync(() => subscription.unsubscribe())
    )
    let counter = 0

    const request: NatsReplies["request"] = (subject, data, options) =>
      Effect.callback<Msg, unknown>((resume) => {
        const token = String(++counter)
        const stop = () => {
          pending.delete(token)
          deadlines.remove(wait)
        }
        const wait = deadlines.add(options.timeoutMs, () => {
          pending.delete(token)
          resume(Effect.fail(new TimeoutError()))
        })
        pending.set(token, (msg) => {
          stop()
          // The server answers a request nobody listens to with an empty 503 status message.
          resume(
            msg.data.length === 0 && msg.headers?.code === 503
              ? Effect.fail(new RequestError(`no responders: '${subject}'`, { cause: new NoRespondersError(subject) }))
              : Effect.succeed(msg)
          )
        })
        const sent = Result.try(() =>
          nc.publish(subject, data, { reply: `${prefix}${token}`, ...(options.headers === undefined ? {} : { headers: options.headers }) })
        )
        if (Result.isFailure(sent)) {
          stop()
          resume(Effect.fail(sent.failure))
        }
        return Effect.sync(stop)
      })

    const publish: NatsReplies["publish"] = (subject, data, options) => {
      const hdrs = publishHeaders(options)
      return request(subject, data, { timeoutMs: jetStreamTimeoutMs, ...(hdrs === undefined ? {} : { headers: hdrs }) }).pipe(
        Effect.flatMap((msg) => Effect.fromResult(readPubAck(msg)))
      )
    }

    const ackAck: NatsReplies["ackAck"] = (ackSubject) => request(ackSubject, ack, { timeoutMs: jetStreamTimeoutMs }).pipe(Effect.asVoid)

    return { request, publish, ackAck } satisfies NatsReplies
  })
