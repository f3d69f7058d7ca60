/**
 * The conformance suite of the bus port. Every adapter runs it (the memory
 * bus in unit tests, the NATS bus against a real nats-server) so that both
 * keep the same semantics: subjects and wildcards, queue groups,
 * request/reply, work queues with acks, naks, redelivery, in-progress acks,
 * max deliveries, terms and dead letters, deduplication, shared durables,
 * slots and max-ack-pending, and KV buckets. Each test names its own
 * subjects, streams, consumers and buckets, so tests never see each other.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, type Layer, Option, Ref, Schedule, type Scope, Stream } from "effect"
import { Bus, type ConsumerConfig, type DeadLetter, type JobMessage, type KvEntry } from "../../../services/bus/index.ts"
import { collect } from "../../support/collect.ts"
import { eventually } from "../../support/eventually.ts"
import { uniquePrefix } from "../../support/unique.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const bytes = (text: string) => encoder.encode(text)
const text = (data: Uint8Array) => decoder.decode(data)

/** Names owned by one test. */
interface Scope_ {
  readonly prefix: string
  readonly subject: (...tokens: ReadonlyArray<string>) => string
  readonly stream: string
  readonly bucket: string
}

const makeScope = (): Scope_ => {
  const prefix = uniquePrefix()
  return {
    prefix,
    subject: (...tokens) => [prefix, ...tokens].join("."),
    stream: `S_${prefix}`,
    bucket: `kv_${prefix}`
  }
}

/** A work queue (stream plus consumer) with short timers, for one test. */
const setupQueue = (names: Scope_, overrides: Partial<ConsumerConfig> = {}) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    yield* bus.ensureStream({
      name: names.stream,
      subjects: [names.subject("jobs", ">")],
      duplicateWindow: "1 minute",
      retention: "workqueue"
    })
    const config: ConsumerConfig = {
      stream: names.stream,
      durable: "workers",
      filterSubject: names.subject("jobs", ">"),
      ackWait: "400 millis",
      maxDeliver: 5,
      maxAckPending: 100,
      deadLetterSubject: names.subject("dead"),
      ...overrides
    }
    yield* bus.ensureConsumer(config)
    return config
  })

const deliveriesOf = (jobs: ReadonlyArray<JobMessage>, body: string) =>
  jobs.filter((job) => text(job.data) === body).map((job) => job.deliveryCount)

/** Runs the conformance suite against the adapter built by `makeLayer` (a fresh one per test). */
export const busSuite = (name: string, makeLayer: () => Layer.Layer<Bus, unknown>): void => {
  const test = (title: string, body: (names: Scope_) => Effect.Effect<void, unknown, Bus | Scope.Scope>) =>
    // The test's own scope (subscriptions, consumers) closes before the bus it runs on.
    it.live(title, () => Effect.scoped(body(makeScope())).pipe(Effect.provide(makeLayer())))

  describe(`${name} bus`, () => {
    describe("core subjects", () => {
      test("delivers a message to every subscription whose pattern matches, with * and > wildcards", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const exact = yield* collect("exact", yield* bus.subscribe(names.subject("a", "b")))
          const star = yield* collect("star", yield* bus.subscribe(names.subject("a", "*")))
          const tail = yield* collect("tail", yield* bus.subscribe(names.subject("a", ">")))
          for (const tokens of [["a", "b"], ["a", "b", "c"], ["a"], ["x", "b"]]) {
            yield* bus.publish(names.subject(...tokens), bytes(tokens.join(".")))
          }
          const marker = names.subject("a", "end")
          yield* bus.publish(marker, bytes("end"))
          const tailSeen = yield* tail.atLeast(3)
          const starSeen = yield* star.atLeast(2)
          assert.deepStrictEqual(
            tailSeen.map((m) => text(m.data)),
            ["a.b", "a.b.c", "end"]
          )
          assert.deepStrictEqual(
            starSeen.map((m) => text(m.data)),
            ["a.b", "end"]
          )
          assert.deepStrictEqual(
            (yield* exact.items).map((m) => m.subject),
            [names.subject("a", "b")]
          )
        }))

      test("passes headers through with the payload", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const seen = yield* collect("sub", yield* bus.subscribe(names.subject("h")))
          yield* bus.publish(names.subject("h"), bytes("x"), { headers: { traceparent: "00-abc-def-01" } })
          const [message] = yield* seen.atLeast(1)
          assert.strictEqual(message!.headers["traceparent"], "00-abc-def-01")
          assert.strictEqual(message!.reply, undefined)
        }))

      test("gives each message to one member of a queue group and to every plain subscriber", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const subject = names.subject("work")
          const first = yield* collect("member 1", yield* bus.subscribe(subject, { queue: "pool" }))
          const second = yield* collect("member 2", yield* bus.subscribe(subject, { queue: "pool" }))
          const plain = yield* collect("plain", yield* bus.subscribe(subject))
          for (let i = 0; i < 40; i++) yield* bus.publish(subject, bytes(String(i)))
          yield* plain.atLeast(40)
          const total = yield* eventually(
            "the group got all 40",
            Effect.gen(function* () {
              const all = [...(yield* first.items), ...(yield* second.items)]
              return all.length >= 40 ? all : yield* Effect.fail(`${all.length} messages`)
            })
          )
          assert.strictEqual(new Set(total.map((m) => text(m.data))).size, 40, "no message went to both members")
          assert.strictEqual(total.length, 40)
          assert.isAbove((yield* first.items).length, 0)
          assert.isAbove((yield* second.items).length, 0)
        }))

      test("stops delivering to a subscription once its scope closes", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const subject = names.subject("s")
          const closed = yield* Effect.scoped(
            Effect.gen(function* () {
              const stream = yield* bus.subscribe(subject)
              return stream
            })
          )
          const ended = yield* Stream.runCollect(closed).pipe(Effect.timeoutOption("5 seconds"))
          assert.isTrue(Option.isSome(ended), "the stream of a closed subscription ends")
        }))
    })

    describe("request/reply", () => {
      test("answers a request with the responder's reply", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const subject = names.subject("echo")
          const requests = yield* bus.subscribe(subject)
          yield* requests.pipe(
            Stream.runForEach((message) => bus.respond(message, bytes(`echo ${text(message.data)}`), { headers: { answered: "yes" } })),
            Effect.forkScoped
          )
          const reply = yield* bus.request(subject, bytes("hi"), { timeout: "5 seconds" })
          assert.strictEqual(text(reply.data), "echo hi")
          assert.strictEqual(reply.headers["answered"], "yes")
        }))

      test("delivers to an unconfirmed subscription what a request sent after it makes a responder publish", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const subject = names.subject("starter")
          const started = names.subject("started")
          const requests = yield* bus.subscribe(subject)
          yield* requests.pipe(
            Stream.runForEach((message) =>
              bus.publish(started, bytes(`started ${text(message.data)}`)).pipe(Effect.andThen(bus.respond(message, bytes("ok"))))
            ),
            Effect.forkScoped
          )
          for (const round of [1, 2, 3]) {
            yield* Effect.scoped(
              Effect.gen(function* () {
                const events = yield* bus.subscribe(started, { confirm: false })
                yield* bus.request(subject, bytes(String(round)), { timeout: "5 seconds" })
                const first = yield* Stream.runHead(events).pipe(Effect.timeoutOption("5 seconds"))
                assert.strictEqual(
                  Option.isSome(first) && Option.isSome(first.value) ? text(first.value.value.data) : "nothing",
                  `started ${round}`
                )
              })
            )
          }
        }))

      test("fails a request that nobody answers in time with RequestTimeoutError", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const subject = names.subject("silent")
          yield* bus.subscribe(subject)
          const error = yield* bus.request(subject, bytes("?"), { timeout: "200 millis" }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "RequestTimeoutError")
          if (error._tag === "RequestTimeoutError") {
            assert.strictEqual(error.subject, subject)
            assert.strictEqual(error.timeoutMs, 200)
          }
        }))

      test("fails a request to a subject nobody listens on with NoRespondersError", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const error = yield* bus.request(names.subject("nobody"), bytes("?"), { timeout: "5 seconds" }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "NoRespondersError")
        }))
    })

    describe("work queues", () => {
      test("counts what waits for a consumer and what its callers hold, as the server does", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          assert.isTrue(yield* bus.connected)
          // A lease far longer than the test: nothing comes back while it runs.
          yield* setupQueue(names, { ackWait: "60 seconds" })
          for (const body of ["a", "b", "c"]) yield* bus.enqueue(names.subject("jobs", body), bytes(body))
          yield* eventually(
            "three waiting, none held",
            bus.consumerStats(names.stream, "workers").pipe(Effect.map((stats) => stats.waiting === 3 && stats.ackPending === 0))
          )
          // One slot, never acked: one held, the other two wait behind it.
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 1 }))
          yield* jobs.atLeast(1)
          const stats = yield* eventually(
            "one held, two waiting",
            bus.consumerStats(names.stream, "workers").pipe(
              Effect.filterOrFail(
                (stats) => stats.waiting === 2 && stats.ackPending === 1,
                (stats) => JSON.stringify(stats)
              )
            )
          )
          assert.deepStrictEqual(stats, { waiting: 2, ackPending: 1, redelivered: 0 })
          const missing = yield* Effect.flip(bus.consumerStats(names.stream, "nobody"))
          assert.include(`${missing.subject} ${missing.message}`, "nobody")
        }))

      test("delivers each enqueued message once and does not redeliver acked ones", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names)
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 10 }), (job) =>
            text(job.data) === "keep" ? Effect.void : job.ack
          )
          const first = yield* bus.enqueue(names.subject("jobs", "a"), bytes("done"))
          yield* bus.enqueue(names.subject("jobs", "b"), bytes("keep"))
          assert.isFalse(first.duplicate)
          // "keep" is never acked: its redelivery proves the ack wait of "done" passed too.
          yield* eventually("the unacked message comes back", jobs.items.pipe(Effect.map((seen) => deliveriesOf(seen, "keep").includes(2))))
          assert.deepStrictEqual(deliveriesOf(yield* jobs.items, "done"), [1])
          const done = (yield* jobs.items).find((job) => text(job.data) === "done")!
          assert.strictEqual(done.seq, first.seq)
          assert.strictEqual(done.subject, names.subject("jobs", "a"))
        }))

      test("redelivers a message that is not acked within the ack wait, with the same seq, even to a caller with one slot", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names, { ackWait: "300 millis" })
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 1 }))
          yield* bus.enqueue(names.subject("jobs", "x"), bytes("slow"), { headers: { traceparent: "00-1-2-01" } })
          const seen = yield* jobs.atLeast(2)
          assert.deepStrictEqual(
            seen.slice(0, 2).map((job) => job.deliveryCount),
            [1, 2]
          )
          assert.strictEqual(seen[0]!.seq, seen[1]!.seq)
          assert.strictEqual(seen[1]!.headers["traceparent"], "00-1-2-01")
        }))

      test("redelivers a naked message only after its delay", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names, { ackWait: "5 seconds" })
          const nakedAt = yield* Ref.make(0)
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 5 }), (job) =>
            job.deliveryCount === 1
              ? Clock.currentTimeMillis.pipe(
                  Effect.flatMap((now) => Ref.set(nakedAt, now)),
                  Effect.andThen(job.nak("400 millis"))
                )
              : job.ack
          )
          yield* bus.enqueue(names.subject("jobs", "x"), bytes("retry me"))
          const seen = yield* jobs.atLeast(2)
          const redeliveredAt = yield* Clock.currentTimeMillis
          assert.strictEqual(seen[1]!.deliveryCount, 2)
          assert.isAtLeast(redeliveredAt - (yield* Ref.get(nakedAt)), 380, "not redelivered before the delay")
        }))

      test("redelivers a message naked without delay at once", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names, { ackWait: "30 seconds" })
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 1 }), (job) =>
            job.deliveryCount < 3 ? job.nak() : job.ack
          )
          yield* bus.enqueue(names.subject("jobs", "x"), bytes("again"))
          const seen = yield* jobs.atLeast(3, { timeout: "3 seconds" })
          assert.deepStrictEqual(
            seen.map((job) => job.deliveryCount),
            [1, 2, 3]
          )
        }))

      test("keeps the lease of a message whose handler keeps reporting it is working", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names, { ackWait: "400 millis", maxDeliver: 20 })
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 5 }), (job) =>
            text(job.data) === "long" ? job.working.pipe(Effect.repeat(Schedule.spaced("100 millis")), Effect.forkScoped) : Effect.void
          )
          yield* bus.enqueue(names.subject("jobs", "a"), bytes("long"))
          yield* bus.enqueue(names.subject("jobs", "b"), bytes("ignored"))
          // Three deliveries of the ignored message span two full ack waits.
          yield* eventually(
            "the ignored message is delivered 3 times",
            jobs.items.pipe(Effect.map((seen) => deliveriesOf(seen, "ignored").length >= 3))
          )
          assert.deepStrictEqual(deliveriesOf(yield* jobs.items, "long"), [1])
        }))

      test("drops a message after max deliveries and publishes a dead letter", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const dead = yield* collect("dead letters", yield* bus.subscribe(names.subject("dead")))
          yield* setupQueue(names, { ackWait: "300 millis", maxDeliver: 2 })
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 5 }))
          const ack = yield* bus.enqueue(names.subject("jobs", "poison"), bytes("never acked"), {
            headers: { traceparent: "00-a-b-01" }
          })
          const [letter] = yield* dead.atLeast(1)
          const record = JSON.parse(text(letter!.data)) as DeadLetter
          assert.strictEqual(record.stream, names.stream)
          assert.strictEqual(record.consumer, "workers")
          assert.strictEqual(record.seq, ack.seq)
          assert.strictEqual(record.subject, names.subject("jobs", "poison"))
          assert.strictEqual(record.deliveries, 2)
          assert.strictEqual(record.reason, "max deliveries exceeded")
          assert.strictEqual(Buffer.from(record.data!, "base64").toString(), "never acked")
          assert.strictEqual(record.headers["traceparent"], "00-a-b-01")
          assert.deepStrictEqual(
            (yield* jobs.items).map((job) => job.deliveryCount),
            [1, 2]
          )
        }))

      test("terminates a poison message without redelivery and publishes a dead letter with the reason", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const dead = yield* collect("dead letters", yield* bus.subscribe(names.subject("dead")))
          yield* setupQueue(names, { ackWait: "300 millis" })
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 5 }), (job) =>
            text(job.data) === "poison" ? job.term("payload is not JSON") : Effect.void
          )
          yield* bus.enqueue(names.subject("jobs", "a"), bytes("poison"))
          yield* bus.enqueue(names.subject("jobs", "b"), bytes("ignored"))
          const [letter] = yield* dead.atLeast(1)
          const record = JSON.parse(text(letter!.data)) as DeadLetter
          assert.strictEqual(record.reason, "terminated: payload is not JSON")
          assert.strictEqual(record.deliveries, 1)
          assert.strictEqual(Buffer.from(record.data!, "base64").toString(), "poison")
          yield* eventually(
            "the ignored message comes back",
            jobs.items.pipe(Effect.map((seen) => deliveriesOf(seen, "ignored").includes(2)))
          )
          assert.deepStrictEqual(deliveriesOf(yield* jobs.items, "poison"), [1])
        }))

      test("stores a message enqueued twice with the same id once", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names)
          const first = yield* bus.enqueue(names.subject("jobs", "x"), bytes("one"), { msgId: "task-1/1" })
          const again = yield* bus.enqueue(names.subject("jobs", "x"), bytes("one again"), { msgId: "task-1/1" })
          const other = yield* bus.enqueue(names.subject("jobs", "x"), bytes("two"), { msgId: "task-2/1" })
          assert.deepStrictEqual(again, { seq: first.seq, duplicate: true })
          assert.isFalse(other.duplicate)
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 10 }), (job) => job.ack)
          yield* jobs.atLeast(2)
          yield* bus.enqueue(names.subject("jobs", "x"), bytes("three"))
          const seen = yield* jobs.atLeast(3)
          assert.deepStrictEqual(
            seen.map((job) => text(job.data)),
            ["one", "two", "three"]
          )
        }))

      test("redelivers a message whose consumer went away to another caller of the same durable", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names, { ackWait: "300 millis" })
          const lost = yield* Effect.scoped(
            Effect.gen(function* () {
              const dying = yield* collect("dying replica", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 1 }))
              yield* bus.enqueue(names.subject("jobs", "x"), bytes("task"))
              return yield* dying.atLeast(1)
            })
          )
          const survivor = yield* collect(
            "surviving replica",
            yield* bus.consume({ stream: names.stream, durable: "workers", slots: 1 }),
            (job) => job.ack
          )
          const [job] = yield* survivor.atLeast(1)
          assert.strictEqual(job!.seq, lost[0]!.seq)
          assert.strictEqual(job!.deliveryCount, 2)
          assert.strictEqual(text(job!.data), "task")
        }))

      test("stores a core publish on a subject the stream captures", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names)
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 1 }), (job) => job.ack)
          yield* bus.publish(names.subject("jobs", "plain"), bytes("published"))
          const [job] = yield* jobs.atLeast(1)
          assert.strictEqual(text(job!.data), "published")
        }))

      test("refuses a second consumer whose filter overlaps another on a workqueue stream", (names) =>
        Effect.gen(function* () {
          yield* setupQueue(names)
          const error = yield* setupQueue(names, { durable: "others", filterSubject: names.subject("jobs", "a") }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "BusError")
          assert.strictEqual(error.code, "10100")
        }))

      test("fails to create a consumer on a missing stream and to consume from a missing consumer", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const noStream = yield* bus
            .ensureConsumer({
              stream: names.stream,
              durable: "workers",
              filterSubject: names.subject("jobs", ">"),
              ackWait: "1 second",
              maxDeliver: 3,
              maxAckPending: 10
            })
            .pipe(Effect.flip)
          assert.strictEqual(noStream.code, "10059")
          yield* setupQueue(names)
          const noConsumer = yield* bus.consume({ stream: names.stream, durable: "nobody", slots: 1 }).pipe(Effect.flip)
          assert.strictEqual(noConsumer.code, "10014")
        }))

      test("says whether ensuring a stream or consumer created it, and leaves an existing one as it was", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const stream = {
            name: names.stream,
            subjects: [names.subject("jobs", ">")],
            duplicateWindow: "1 minute",
            retention: "workqueue"
          } as const
          const consumer: ConsumerConfig = {
            stream: names.stream,
            durable: "workers",
            filterSubject: names.subject("jobs", ">"),
            ackWait: "1 second",
            maxDeliver: 3,
            maxAckPending: 10
          }
          assert.isTrue(yield* bus.ensureStream(stream), "a new stream")
          assert.isTrue(yield* bus.ensureConsumer(consumer), "a new consumer")
          yield* bus.enqueue(names.subject("jobs", "a"), bytes("kept"))
          assert.isFalse(yield* bus.ensureStream(stream), "the stream again")
          assert.isFalse(yield* bus.ensureConsumer({ ...consumer, maxDeliver: 4 }), "the consumer again, updated")
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 1 }), (job) => job.ack)
          const [job] = yield* jobs.atLeast(1)
          assert.strictEqual(text(job!.data), "kept")
        }))

      test("fails to enqueue on a subject that no stream captures", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const error = yield* bus.enqueue(names.subject("nowhere"), bytes("x")).pipe(Effect.flip)
          assert.strictEqual(error._tag, "BusError")
          assert.strictEqual(error.code, "NO_STREAM")
        }))

      test("shares one durable between two consumers, each message going to one of them", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names)
          const handle = (job: JobMessage) => Effect.sleep("5 millis").pipe(Effect.andThen(job.ack))
          const first = yield* collect("replica 1", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 2 }), handle)
          const second = yield* collect("replica 2", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 2 }), handle)
          for (let i = 0; i < 40; i++) yield* bus.enqueue(names.subject("jobs", "x"), bytes(String(i)))
          const all = yield* eventually(
            "40 messages across both replicas",
            Effect.gen(function* () {
              const seen = [...(yield* first.items), ...(yield* second.items)]
              return seen.length >= 40 ? seen : yield* Effect.fail(`${seen.length} messages`)
            })
          )
          assert.strictEqual(all.length, 40)
          assert.strictEqual(new Set(all.map((job) => job.seq)).size, 40)
          assert.isTrue(all.every((job) => job.deliveryCount === 1))
          assert.isAbove((yield* first.items).length, 0)
          assert.isAbove((yield* second.items).length, 0)
        }))

      test("never lets one caller hold more unacked messages than its slots", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names)
          const held = yield* Ref.make(0)
          const most = yield* Ref.make(0)
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 3 }), (job) =>
            Ref.updateAndGet(held, (n) => n + 1).pipe(
              Effect.flatMap((n) => Ref.update(most, (m) => Math.max(m, n))),
              Effect.andThen(Effect.sleep("20 millis")),
              Effect.andThen(Ref.update(held, (n) => n - 1)),
              Effect.andThen(job.ack),
              Effect.forkScoped
            )
          )
          for (let i = 0; i < 15; i++) yield* bus.enqueue(names.subject("jobs", "x"), bytes(String(i)))
          yield* jobs.atLeast(15)
          assert.strictEqual(yield* Ref.get(most), 3)
        }))

      test("never leases more than max ack pending across all callers", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names, { maxAckPending: 2 })
          const held = yield* Ref.make(0)
          const most = yield* Ref.make(0)
          const handle = (job: JobMessage) =>
            Ref.updateAndGet(held, (n) => n + 1).pipe(
              Effect.flatMap((n) => Ref.update(most, (m) => Math.max(m, n))),
              Effect.andThen(Effect.sleep("20 millis")),
              Effect.andThen(Ref.update(held, (n) => n - 1)),
              Effect.andThen(job.ack),
              Effect.forkScoped
            )
          const first = yield* collect("replica 1", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 5 }), handle)
          const second = yield* collect("replica 2", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 5 }), handle)
          for (let i = 0; i < 12; i++) yield* bus.enqueue(names.subject("jobs", "x"), bytes(String(i)))
          yield* eventually(
            "12 messages across both replicas",
            Effect.gen(function* () {
              return (yield* first.items).length + (yield* second.items).length >= 12
            })
          )
          assert.strictEqual(yield* Ref.get(most), 2)
        }))

      test("applies a changed consumer config when ensured again", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          yield* setupQueue(names, { ackWait: "30 seconds" })
          yield* setupQueue(names, { ackWait: "300 millis" })
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: names.stream, durable: "workers", slots: 1 }))
          yield* bus.enqueue(names.subject("jobs", "x"), bytes("x"))
          const seen = yield* jobs.atLeast(2, { timeout: "5 seconds" })
          assert.strictEqual(seen[1]!.deliveryCount, 2)
        }))
    })

    describe("key-value buckets", () => {
      test("returns what was put with its revision, and none for a missing key", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const kv = yield* bus.kv(names.bucket)
          const revision = yield* kv.put("run.1", bytes("a"))
          const entry = yield* kv.get("run.1")
          assert.isTrue(Option.isSome(entry))
          if (Option.isSome(entry)) {
            assert.strictEqual(text(entry.value.value), "a")
            assert.strictEqual(entry.value.revision, revision)
            assert.strictEqual(entry.value.key, "run.1")
            assert.strictEqual(entry.value.operation, "PUT")
          }
          assert.isTrue(Option.isNone(yield* kv.get("run.2")))
          const again = yield* bus.kv(names.bucket)
          assert.isTrue(Option.isSome(yield* again.get("run.1")), "reopening a bucket keeps its contents")
        }))

      test("says whether ensuring a bucket created it, and keeps what an existing one holds", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          assert.isTrue(yield* bus.ensureBucket(names.bucket), "a new bucket")
          const kv = yield* bus.kv(names.bucket)
          yield* kv.put("k", bytes("v"))
          assert.isFalse(yield* bus.ensureBucket(names.bucket), "the bucket again")
          const entry = yield* kv.get("k")
          assert.strictEqual(Option.isSome(entry) ? text(entry.value.value) : undefined, "v")
          const invalid = yield* bus.ensureBucket("no spaces allowed").pipe(Effect.flip)
          assert.strictEqual(invalid._tag, "BusError")
        }))

      test("creates a key only when it does not exist", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const kv = yield* bus.kv(names.bucket)
          yield* kv.create("k", bytes("first"))
          const error = yield* kv.create("k", bytes("second")).pipe(Effect.flip)
          assert.strictEqual(error._tag, "KvConflictError")
          if (error._tag === "KvConflictError") {
            assert.strictEqual(error.key, "k")
            assert.strictEqual(error.expectedRevision, 0)
          }
          yield* kv.delete("k")
          yield* kv.create("k", bytes("third"))
          const entry = yield* kv.get("k")
          assert.strictEqual(Option.isSome(entry) ? text(entry.value.value) : "missing", "third")
        }))

      test("updates a key at its current revision and refuses a stale one with KvConflictError", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const kv = yield* bus.kv(names.bucket)
          const first = yield* kv.put("k", bytes("1"))
          const second = yield* kv.update("k", bytes("2"), first)
          assert.isAbove(second, first)
          const error = yield* kv.update("k", bytes("3"), first).pipe(Effect.flip)
          assert.strictEqual(error._tag, "KvConflictError")
          if (error._tag === "KvConflictError") assert.strictEqual(error.expectedRevision, first)
          const entry = yield* kv.get("k")
          assert.strictEqual(Option.isSome(entry) ? text(entry.value.value) : "missing", "2")
        }))

      test("deletes a key from get and keys", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const kv = yield* bus.kv(names.bucket)
          assert.deepStrictEqual(yield* kv.keys, [])
          yield* kv.put("a", bytes("1"))
          yield* kv.put("b.c", bytes("2"))
          assert.deepStrictEqual([...(yield* kv.keys)].sort(), ["a", "b.c"])
          yield* kv.delete("a")
          assert.isTrue(Option.isNone(yield* kv.get("a")))
          assert.deepStrictEqual(yield* kv.keys, ["b.c"])
        }))

      test("purges a key from get and keys, and a purged key can be created again", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const kv = yield* bus.kv(names.bucket)
          yield* kv.put("a", bytes("1"))
          yield* kv.put("b", bytes("2"))
          yield* kv.purge("a")
          yield* kv.purge("never-there")
          assert.isTrue(Option.isNone(yield* kv.get("a")))
          assert.deepStrictEqual(yield* kv.keys, ["b"])
          yield* kv.create("a", bytes("again"))
          assert.strictEqual(text(Option.getOrThrow(yield* kv.get("a")).value), "again")
        }))

      test("watches current values first and then changes, only for matching keys", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const kv = yield* bus.kv(names.bucket)
          yield* kv.put("runs.1", bytes("a"))
          yield* kv.put("pools.1", bytes("p"))
          yield* kv.put("runs.2", bytes("gone"))
          yield* kv.delete("runs.2")
          const watched = yield* collect("watch", kv.watch({ key: "runs.*" }))
          yield* watched.atLeast(1)
          yield* kv.put("runs.3", bytes("b"))
          yield* kv.put("pools.2", bytes("q"))
          yield* kv.delete("runs.1")
          const seen = yield* watched.atLeast(3)
          const summary = (entry: KvEntry) => `${entry.operation} ${entry.key}${entry.operation === "PUT" ? `=${text(entry.value)}` : ""}`
          assert.deepStrictEqual(seen.map(summary), ["PUT runs.1=a", "PUT runs.3=b", "DEL runs.1"])
        }))

      test("refuses an invalid key with a BusError", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const kv = yield* bus.kv(names.bucket)
          const error = yield* kv.put("no spaces allowed", bytes("x")).pipe(Effect.flip)
          assert.strictEqual(error.code, "INVALID_KEY")
        }))

      test("watches every key when no filter is given", (names) =>
        Effect.gen(function* () {
          const bus = yield* Bus
          const kv = yield* bus.kv(names.bucket)
          yield* kv.put("x", bytes("1"))
          const watched = yield* collect("watch", kv.watch())
          yield* watched.atLeast(1)
          yield* kv.put("y.z", bytes("2"))
          const seen = yield* watched.atLeast(2)
          assert.deepStrictEqual(
            seen.map((entry) => entry.key),
            ["x", "y.z"]
          )
        }))
    })
  })
}
