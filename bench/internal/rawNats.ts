/**
 * The baselines: what nats.js alone does against the same server. Core
 * request/reply (a responder on one connection, requests from another), and
 * a JetStream round trip shaped like a Switchyard task: a durable publish
 * (with a message id, as Switchyard dedupes) into a file-backed work-queue
 * stream, a pull consumer (`consume`, nats.js's own refill loop) that takes
 * it, replies on core NATS to the subject the publisher named in a header,
 * and acks; the publisher waits for that reply.
 */
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType
} from "@nats-io/jetstream"
import { connect, headers as natsHeaders, nanos, type NatsConnection } from "@nats-io/transport-node"
import {
  concurrentPromise,
  type Concurrent,
  type ConcurrentPlan,
  sequentialPromise,
  type Sequential,
  type SequentialPlan
} from "./stats.ts"

/** Sequential and concurrent results of one scenario. */
export interface ScenarioResult {
  readonly sequential: Sequential
  readonly concurrent: Concurrent
}

/** What every baseline runs. */
export interface RawPlan {
  readonly sequential: SequentialPlan
  readonly concurrent: ConcurrentPlan
}

/** A payload about the size of an encoded no-op `TaskRun`. */
export const payload = new TextEncoder().encode(
  JSON.stringify({
    version: 1,
    taskId: "0123456789abcdef-noop",
    runId: "0123456789abcdef",
    stage: "noop",
    stageType: "hello.noop",
    attempt: 1,
    inputs: {}
  })
)

const empty = new Uint8Array(0)
const replyHeader = "bench-reply-to"

const open = (url: string, name: string): Promise<NatsConnection> => connect({ servers: url, name })

/** Core request/reply: sequential latency, then throughput with `inFlight` requests outstanding. */
export const coreRequestReply = async (url: string, prefix: string, plan: RawPlan): Promise<ScenarioResult> => {
  const responder = await open(url, `${prefix}-core-responder`)
  const requester = await open(url, `${prefix}-core-requester`)
  try {
    const subject = `${prefix}.core.echo`
    responder.subscribe(subject, {
      callback: (error, msg) => {
        if (error === null) msg.respond(empty)
      }
    })
    await responder.flush()
    const once = () => requester.request(subject, payload, { timeout: 10_000 })
    const sequential = await sequentialPromise(plan.sequential, once)
    const concurrent = await concurrentPromise(plan.concurrent, once)
    return { sequential, concurrent }
  } finally {
    await requester.close()
    await responder.close()
  }
}

/** Declares a file-backed work-queue stream (dedupe window 10 minutes) and its one durable pull consumer. */
export const workQueue = async (jsm: JetStreamManager, stream: string, subject: string, durable: string, plan: RawPlan) => {
  await jsm.streams.add({
    name: stream,
    subjects: [subject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(10 * 60_000)
  })
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: subject,
    ack_wait: nanos(30_000),
    max_ack_pending: plan.concurrent.inFlight * 4
  })
}

/** JetStream work queue round trip: publish, pull-consume, reply on core NATS, ack. */
export const jetStreamRoundTrip = async (url: string, prefix: string, plan: RawPlan): Promise<ScenarioResult> => {
  const worker = await open(url, `${prefix}-js-worker`)
  const publisher = await open(url, `${prefix}-js-publisher`)
  const stream = `${prefix.toUpperCase()}_RAW_WORK`
  const subject = `${prefix}.raw.work`
  const jsm = await jetstreamManager(worker)
  try {
    await workQueue(jsm, stream, subject, "raw-worker", plan)
    const consumer = await jetstream(worker).consumers.get(stream, "raw-worker")
    const messages = await consumer.consume({
      max_messages: plan.concurrent.inFlight,
      callback: (msg) => {
        const replyTo = msg.headers?.get(replyHeader)
        if (replyTo !== undefined && replyTo !== "") worker.publish(replyTo, empty)
        msg.ack()
      }
    })

    const waiting = new Map<string, () => void>()
    const inbox = `${prefix}.raw.reply`
    publisher.subscribe(`${inbox}.*`, {
      callback: (error, msg) => {
        if (error !== null) return
        const done = waiting.get(msg.subject)
        if (done !== undefined) {
          waiting.delete(msg.subject)
          done()
        }
      }
    })
    await publisher.flush()
    const js = jetstream(publisher)
    let counter = 0
    const once = async () => {
      const replyTo = `${inbox}.${counter++}`
      const replied = new Promise<void>((resolve) => waiting.set(replyTo, resolve))
      const hdrs = natsHeaders()
      hdrs.set(replyHeader, replyTo)
      await js.publish(subject, payload, { headers: hdrs, msgID: `${prefix}-${replyTo}` })
      await replied
    }
    const sequential = await sequentialPromise(plan.sequential, once)
    const concurrent = await concurrentPromise(plan.concurrent, once)
    messages.stop()
    return { sequential, concurrent }
  } finally {
    await jsm.streams.delete(stream).catch(() => false)
    await publisher.close()
    await worker.close()
  }
}
