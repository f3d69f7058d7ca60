import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import type { Scope } from "effect"
import { inject } from "vitest"
import { WireType } from "../../schemas/Catalog.ts"
import { RunEvent, RunSubmit, RunSubmitReply } from "../../schemas/Run.ts"
import type { TaskResult } from "../../schemas/Task.ts"
import { stages as helloStages } from "../../plugins/hello/index.ts"
import { connect, PipelineInvalidError, SwitchyardClient } from "../../sdk/client.ts"
import { Bus } from "../../services/bus/Bus.ts"
import { decode, encode } from "../../schemas/Codec.ts"
import * as NatsBus from "../../services/bus/NatsBus.ts"
import * as NatsBlobStore from "../../services/bus/NatsBlobStore.ts"
import { BlobStore } from "../../services/bus/BlobStore.ts"
import { externalize } from "../../services/bus/BlobJson.ts"
import { type BlobRef, listMediaType, sliceRef } from "../../schemas/Blob.ts"
import { Executor, ExecutorConfig, StageCatalog } from "../../services/executor/index.ts"
import { Subjects } from "../../schemas/Subjects.ts"
import type { Names } from "../../schemas/Subjects.ts"
import { clientSuite, poolReplica, uniqueNames } from "./clientSuite.ts"
import { errorOf, outputOf } from "../support/results.ts"
import { makeEvent } from "../support/events.ts"

clientSuite("NATS", () => NatsBus.layer({ url: inject("natsUrl") }))

/** Runs `self` with its own NATS connection under `names`, open until the test's scope closes. */
const onBus =
  (names: Names) =>
  <A, E>(self: Effect.Effect<A, E, Bus | Scope.Scope>) =>
    Effect.gen(function* () {
      const bus = yield* Layer.build(NatsBus.layer({ url: inject("natsUrl"), name: "test-service-side" }))
      return yield* self.pipe(Effect.provideContext(bus), Effect.provideService(Subjects, names))
    })

/** Everything an async iterable yields, until it ends. */
const collect = <A>(iterable: AsyncIterable<A>) =>
  Stream.fromAsyncIterable(iterable, (error) => error).pipe(Stream.runCollect, Effect.timeout("10 seconds"))

/** A connection of the Promise client, closed with the test's scope. */
const connected = (names: Names) =>
  Effect.acquireRelease(
    Effect.promise(() => connect({ natsUrl: inject("natsUrl"), prefix: names.prefix })),
    (connection) => Effect.promise(() => connection.close())
  )

/** Answers run.submit: text containing `broken` gets an issue; anything else runs and finishes at once. */
const submitResponder = Effect.gen(function* () {
  const bus = yield* Bus
  const names = yield* Subjects
  const submits = yield* bus.subscribe(names.runSubmit)
  yield* submits.pipe(
    Stream.runForEach((message) =>
      Effect.gen(function* () {
        const request = yield* decode(RunSubmit, WireType.RunSubmit)(message)
        const runId = request.runId ?? "assigned"
        const broken = request.text.includes("broken")
        const reply = new RunSubmitReply(
          broken
            ? { version: 1, issues: [{ file: request.file, line: 1, column: 7, path: "name", message: "broken on purpose" }] }
            : { version: 1, runId, issues: [] }
        )
        const publish = (seq: number, kind: RunEvent["kind"], extra: Record<string, unknown> = {}) => {
          const event = encode(
            RunEvent,
            WireType.RunEvent,
            makeEvent({ version: 1, runId, seq, at: seq, kind, ...extra } as typeof RunEvent.Encoded)
          )
          return bus.publish(names.runEvent(runId), event.data, { headers: event.headers })
        }
        if (!broken) yield* publish(1, "run.started")
        const encoded = encode(RunSubmitReply, WireType.RunSubmitReply, reply)
        yield* bus.respond(message, encoded.data, { headers: encoded.headers })
        if (!broken) yield* publish(2, "run.finished", { status: "succeeded", state: {} })
      })
    ),
    Effect.forkScoped
  )
})

describe("connect (the Promise client) over NATS", () => {
  it.live("submits a run and yields its events as an async iterable that ends after run.finished", () => {
    const names = uniqueNames("sdkpromise")
    return Effect.gen(function* () {
      yield* submitResponder.pipe(onBus(names))
      const connection = yield* connected(names)
      const run = yield* Effect.promise(() => connection.submitRun({ pipeline: "name: hello\nstages: []\n", runId: "promise-run" }))
      assert.strictEqual(run.runId, "promise-run")
      const events = yield* collect(run.events)
      assert.deepStrictEqual(
        events.map((event) => event.kind),
        ["run.started", "run.finished"]
      )
    }).pipe(Effect.scoped)
  })

  it.live("rejects with PipelineInvalidError when the scheduler finds issues", () => {
    const names = uniqueNames("sdkpromisebad")
    return Effect.gen(function* () {
      yield* submitResponder.pipe(onBus(names))
      const connection = yield* connected(names)
      const error = yield* Effect.promise(() =>
        connection.submitRun({ pipeline: "name: broken\n", file: "broken.yaml" }).then(
          () => undefined,
          (error: unknown) => error
        )
      )
      assert.instanceOf(error, PipelineInvalidError)
      assert.include((error as PipelineInvalidError).message, "broken.yaml:1:7")
    }).pipe(Effect.scoped)
  })

  it.live("runs a standalone task and resolves with its result", () => {
    const names = uniqueNames("sdkpromisetask")
    return Effect.gen(function* () {
      yield* poolReplica("greeters").pipe(onBus(names))
      const connection = yield* connected(names)
      const result: TaskResult = yield* Effect.promise(() =>
        connection.runTask({ stageType: "hello.greet", pool: "greeters", inputs: { name: "Grace" } })
      )
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual((outputOf(result) as { readonly greeting: string }).greeting, "hello Grace")
    }).pipe(Effect.scoped)
  })

  it.live("ends an abandoned run's subscription when the connection closes", () => {
    const names = uniqueNames("sdkpromiseclose")
    return Effect.gen(function* () {
      yield* submitResponder.pipe(onBus(names))
      const connection = yield* Effect.promise(() => connect({ natsUrl: inject("natsUrl"), prefix: names.prefix }))
      const run = yield* Effect.promise(() => connection.submitRun({ pipeline: "name: hello\nstages: []\n" }))
      yield* Effect.promise(() => connection.close())
      // Iterating after close ends at once instead of waiting for events forever.
      const events = yield* collect(run.events)
      assert.isAtMost(events.length, 2)
    }).pipe(Effect.scoped)
  })

  it.live("closes once when close is called twice, together or one after the other", () => {
    const names = uniqueNames("sdkpromiseclosetwice")
    return Effect.promise(async () => {
      const connection = await connect({ natsUrl: inject("natsUrl"), prefix: names.prefix })
      const together = await Promise.allSettled([connection.close(), connection.close()])
      const after = await Promise.allSettled([connection.close()])
      return [...together, ...after].map((settled) => settled.status)
    }).pipe(Effect.map((statuses) => assert.deepStrictEqual(statuses, ["fulfilled", "fulfilled", "fulfilled"])))
  })

  it.live("disposes a connection with await using after it was closed explicitly", () => {
    const names = uniqueNames("sdkpromiseusing")
    return Effect.promise(async () => {
      {
        await using connection = await connect({ natsUrl: inject("natsUrl"), prefix: names.prefix })
        await connection.close()
      }
      return "disposed"
    }).pipe(Effect.map((outcome) => assert.strictEqual(outcome, "disposed")))
  })

  it.live("rejects connect when no server listens at the URL", () =>
    Effect.gen(function* () {
      const error = yield* Effect.promise(() =>
        connect({ natsUrl: "nats://127.0.0.1:1" }).then(
          (connection) => connection.close().then(() => undefined),
          (error: unknown) => error
        )
      )
      assert.isDefined(error)
      assert.strictEqual((error as { readonly _tag?: string })._tag, "BusError")
    })
  )
})

describe("SwitchyardClient.runTask against a real executor over NATS", () => {
  /** An executor replica of pool `hello` serving the hello plugin, and the client, on one connection. */
  const withExecutor = <A, E>(names: Names, self: Effect.Effect<A, E, SwitchyardClient>) =>
    Effect.gen(function* () {
      const executor = Executor.layer.pipe(
        Layer.provide(StageCatalog.layer(helloStages)),
        Layer.provide(ExecutorConfig.layer({ pool: "hello", slots: 2, registerTimeout: "500 millis", heartbeatInterval: "1 second" }))
      )
      const services = yield* Layer.build(
        Layer.merge(SwitchyardClient.layer, executor).pipe(
          Layer.provideMerge(NatsBlobStore.layer()),
          Layer.provideMerge(NatsBus.layer({ url: inject("natsUrl"), name: "test-executor" }))
        )
      ).pipe(Effect.provideService(Subjects, names))
      return yield* self.pipe(Effect.provideContext(services), Effect.provideService(Subjects, names))
    }).pipe(Effect.scoped)

  it.live("runs hello.greet on an executor replica and returns its output", () =>
    withExecutor(
      uniqueNames("sdkexec"),
      Effect.gen(function* () {
        const client = yield* SwitchyardClient
        const result = yield* client.runTask({ stageType: "hello.greet", pool: "hello", inputs: { name: "Ada" }, timeoutMs: 5000 })
        assert.strictEqual(result.status, "succeeded")
        assert.deepStrictEqual(outputOf(result), { greeting: "Hello, Ada!" })
        assert.strictEqual(result.pool, "hello")
        assert.strictEqual(result.attempt, 1)
      })
    )
  )

  it.live("returns the executor's failed result for inputs the stage rejects", () =>
    withExecutor(
      uniqueNames("sdkexecbad"),
      Effect.gen(function* () {
        const client = yield* SwitchyardClient
        const result = yield* client.runTask({ stageType: "hello.greet", pool: "hello", inputs: { nom: "Ada" } })
        assert.strictEqual(result.status, "failed")
        assert.isFalse(errorOf(result)?.retryable)
      })
    )
  )
})

describe("connect: reading blob references", () => {
  it.live("resolves stored JSON, a list in segments and a part of it, and reads the bytes of any blob", () =>
    Effect.gen(function* () {
      const names = uniqueNames("sdkblobs")
      // What a scheduler or executor stored: a list long enough for segments, and a PDF a stage stored.
      const rows = Array.from({ length: 5000 }, (_, index) => `row ${index} ${"x".repeat(100)}`)
      const pdf = new TextEncoder().encode("%PDF-1.4 not really")
      const [listRef, pdfRef] = yield* Effect.gen(function* () {
        const store = yield* BlobStore
        return [yield* externalize(rows, 64 * 1024), yield* store.put(pdf, { mediaType: "application/pdf" })] as const
      }).pipe(
        Effect.provide(NatsBlobStore.layer().pipe(Layer.provide(NatsBus.layer({ url: inject("natsUrl"), name: "test-store" })))),
        Effect.provideService(Subjects, names)
      )
      assert.deepInclude(listRef as BlobRef, { mediaType: listMediaType, length: rows.length })
      const connection = yield* connected(names)
      const state = { rows: listRef, some: sliceRef(listRef as BlobRef, 4990, 5000), report: pdfRef }
      const resolved = yield* Effect.promise(() => connection.resolve(state))
      assert.deepStrictEqual(resolved, { rows, some: rows.slice(4990), report: pdfRef })
      assert.deepStrictEqual(yield* Effect.promise(() => connection.readBlob(pdfRef)), pdf)
    }).pipe(Effect.scoped)
  )
})
