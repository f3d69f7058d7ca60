/**
 * Lost infrastructure: the registry, a scheduler and an executor run over a
 * nats-server of the test's own, finish a run, and then lose what they keep
 * in JetStream: the server comes back with an empty store, or an operator
 * deletes a stream, a consumer or a bucket by hand. Without any service being
 * restarted, a run submitted afterwards must be accepted and succeed.
 */
import { assert, describe, it } from "@effect/vitest"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect, Scope } from "effect"
import { Bus } from "../../services/bus/Bus.ts"
import * as NatsBus from "../../services/bus/NatsBus.ts"
import { eventually } from "../support/eventually.ts"
import * as NatsServer from "../support/NatsServer.ts"
import { makeStack } from "./scheduler/harness.ts"

const pipeline = `
name: heal
stages:
  - { name: greet, type: hello.greet, inputs: { name: "{{ inputs.name }}" } }
  - { name: shout, type: hello.shout, depends_on: [greet], inputs: { text: "{{ state.greeting.greeting }}" } }
`

const types = ["hello.greet", "hello.shout"]

/** Generous: a loaded machine, a server restart, and backoffs between attempts. */
const recovery = { timeout: "60 seconds", interval: "250 millis" } as const

/** A registry, an executor of pool `hello` and a scheduler on a private server, and a first run done. */
const deployment = (label: string) =>
  Effect.gen(function* () {
    const stack = yield* makeStack(label)
    yield* stack.registry
    const executor = yield* stack.executor({ executorId: `${label}-replica` })
    yield* stack.scheduler()
    yield* stack.registered(types)
    const first = yield* stack.submit(pipeline, { name: "before" })
    assert.deepStrictEqual(first.issues, [])
    const { finished } = yield* stack.finished(first.runId!)
    assert.strictEqual(finished.status, "succeeded")

    /** Submits until a run is accepted, then waits for it to finish; returns how it finished. */
    const runAfterwards = (name: string) =>
      Effect.gen(function* () {
        const runId = yield* eventually(
          `a run submitted after the loss is accepted`,
          Effect.gen(function* () {
            const reply = yield* stack.submit(pipeline, { name })
            if (reply.runId === undefined) return yield* Effect.fail(reply.issues.map((issue) => issue.message).join("; "))
            return reply.runId
          }),
          recovery
        )
        const { finished: done } = yield* stack.finished(runId, "60 seconds")
        return { status: done.status, state: done.state }
      })
    return { stack, executor, runAfterwards }
  })

/** A JetStream manager on its own connection, as an operator's tool would be. */
const operator = (url: string) =>
  Effect.gen(function* () {
    const nc = yield* Effect.acquireRelease(
      Effect.promise(() => connect({ servers: url, name: "operator" })),
      (nc) => Effect.promise(() => nc.close())
    )
    return yield* Effect.promise(() => jetstreamManager(nc))
  })

const onPrivateServer = <A, E>(test: (server: NatsServer.NatsServerHandle) => Effect.Effect<A, E, Bus | Scope.Scope>) =>
  Effect.gen(function* () {
    const server = yield* NatsServer.scoped()
    return yield* test(server).pipe(Effect.scoped, Effect.provide(NatsBus.layer({ url: server.url, name: "lost-infrastructure" })))
  }).pipe(Effect.scoped)

describe("services that lose their JetStream infrastructure", () => {
  it.live(
    "run a new pipeline after the server came back with an empty store, without a restart",
    () =>
      onPrivateServer((server) =>
        Effect.gen(function* () {
          const { runAfterwards } = yield* deployment("wiped")
          yield* Effect.promise(() => server.restart({ wipe: true }))
          const after = yield* runAfterwards("after")
          assert.strictEqual(after.status, "succeeded")
          assert.strictEqual(after.state["shouted"], "HELLO, AFTER!")
        })
      ),
    150_000
  )

  it.live(
    "run a new pipeline after an operator deleted the pool's consumer, then the tasks stream",
    () =>
      onPrivateServer((server) =>
        Effect.gen(function* () {
          const { executor, runAfterwards, stack } = yield* deployment("deleted")
          const jsm = yield* operator(server.url)
          yield* Effect.promise(() => jsm.consumers.delete(stack.names.streams.tasks, stack.names.consumers.pool(executor.service.pool)))
          const afterConsumer = yield* runAfterwards("consumer")
          assert.strictEqual(afterConsumer.status, "succeeded")
          yield* Effect.promise(() => jsm.streams.delete(stack.names.streams.tasks))
          const afterStream = yield* runAfterwards("stream")
          assert.strictEqual(afterStream.status, "succeeded")
        })
      ),
    150_000
  )

  it.live(
    "run a new pipeline after an operator deleted the registry's and the scheduler's buckets",
    () =>
      onPrivateServer((server) =>
        Effect.gen(function* () {
          const { runAfterwards, stack } = yield* deployment("buckets")
          const jsm = yield* operator(server.url)
          for (const bucket of [stack.names.buckets.stages, stack.names.buckets.pools, stack.names.buckets.runs]) {
            yield* Effect.promise(() => jsm.streams.delete(`KV_${bucket}`))
          }
          const after = yield* runAfterwards("buckets")
          assert.strictEqual(after.status, "succeeded")
        })
      ),
    150_000
  )
})
