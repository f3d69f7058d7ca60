/**
 * Test harness for the executor over a real bus: unique names per test, a
 * results collector (a durable consumer on the results stream, so what it
 * sees is what the stream stored, duplicates removed), task submission,
 * executor replicas that can be stopped mid-test, a registry responder on
 * `stage.register`, and probe stages that record what they saw.
 */
import { Context, Effect, Exit, Layer, Ref, Schema, Scope, Stream } from "effect"
import type { Duration } from "effect"
import { Bus } from "../../../services/bus/Bus.ts"
import type { Headers } from "../../../services/bus/Bus.ts"
import * as Codec from "../../../schemas/Codec.ts"
import { resultsStream, tasksStream } from "../../../services/bus/Streams.ts"
import type { Names } from "../../../schemas/Subjects.ts"
import { makeNames, Subjects } from "../../../schemas/Subjects.ts"
import { Executor, ExecutorConfig, StageCatalog } from "../../../services/executor/index.ts"
import { Registry, RegistryClient } from "../../../services/registry/index.ts"
import type { ExecutorOptions } from "../../../services/executor/index.ts"
import type { StageDefinition } from "../../../sdk/defineStage.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { RegistrationReply, StageDecision, StageRegistration, StageRejection } from "../../../schemas/Registry.ts"
import { TaskResult, TaskRun } from "../../../schemas/Task.ts"
import { BlobStore } from "../../../services/bus/BlobStore.ts"
import { blobStoreFor } from "../../support/blobs.ts"
import { eventually } from "../../support/eventually.ts"
import { uniquePrefix } from "../../support/unique.ts"

/** A result as the results stream stored it, with its headers. */
export interface Received {
  readonly result: TaskResult
  readonly headers: Headers
}

/** A started replica that the test may stop (like a crash when `shutdownGrace` is 0). */
export interface Replica {
  readonly executor: Executor["Service"]
  /** The replica's catalog, to add or remove stage types while it runs. */
  readonly catalog: StageCatalog["Service"]
  readonly stop: Effect.Effect<void>
}

let counter = 0

/** Sets up names, streams and the results collector for one test. */
export const makeHarness = (label: string) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const names = makeNames(uniquePrefix(label))
    const blobs = yield* blobStoreFor(names)
    yield* bus.ensureStream(tasksStream(names))
    yield* bus.ensureStream(resultsStream(names))
    yield* bus.ensureConsumer({
      stream: names.streams.results,
      durable: "test-results",
      filterSubject: names.taskResultAll,
      ackWait: "30 seconds",
      maxDeliver: 3,
      maxAckPending: 1000
    })
    const received = yield* Ref.make<ReadonlyArray<Received>>([])
    const decodeResult = Codec.decode(TaskResult, WireType.TaskResult)
    const results = yield* bus.consume({ stream: names.streams.results, durable: "test-results", slots: 1000 })
    yield* Effect.forkScoped(
      Stream.runForEach(results, (message) =>
        decodeResult(message).pipe(
          Effect.flatMap((result) => Ref.update(received, (all) => [...all, { result, headers: message.headers }])),
          Effect.ignore,
          Effect.andThen(message.ack),
          Effect.ignore
        )
      )
    )

    /** Enqueues a task for `pool`; fills ids and attempt when absent. */
    const seqs = new Map<string, number>()
    const submit = (
      pool: string,
      task: { readonly stageType: string; readonly inputs: Schema.Json } & Partial<Omit<TaskRun, "version">>,
      options: { readonly headers?: Headers; readonly msgId?: string } = {}
    ) =>
      Effect.gen(function* () {
        const taskRun = new TaskRun({
          version: 1,
          taskId: task.taskId ?? `task-${++counter}`,
          runId: task.runId ?? "run-1",
          stage: task.stage ?? task.stageType.replace(/\W/g, "_"),
          stageType: task.stageType,
          attempt: task.attempt ?? 1,
          inputs: task.inputs,
          ...(task.timeoutMs === undefined ? {} : { timeoutMs: task.timeoutMs }),
          ...(task.replyTo === undefined ? {} : { replyTo: task.replyTo })
        })
        const encoded = Codec.encode(TaskRun, WireType.TaskRun, taskRun)
        const ack = yield* bus.enqueue(names.taskRun(pool), encoded.data, {
          headers: { ...encoded.headers, ...options.headers },
          ...(options.msgId === undefined ? {} : { msgId: options.msgId })
        })
        seqs.set(taskRun.taskId, ack.seq)
        return taskRun
      })

    /** The stream sequence of a task's message, as its submit stored it. */
    const seqOf = (taskId: string): number => seqs.get(taskId)!

    /** Results stored for a task so far. */
    const resultsOf = (taskId: string) => Effect.map(Ref.get(received), (all) => all.filter((entry) => entry.result.taskId === taskId))

    /** Waits for the first result of a task. */
    const resultOf = (taskId: string, timeout: Duration.Input = "5 seconds") =>
      eventually(
        `a result for task ${taskId}`,
        Effect.map(resultsOf(taskId), (found) => found[0] ?? false),
        { timeout }
      )

    /** Starts a replica of `pool` serving `definitions`; it stops with the test at the latest. */
    const startReplica = (options: ExecutorOptions & { readonly definitions: ReadonlyArray<StageDefinition> }) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        const { definitions, ...config } = options
        const catalog = StageCatalog.make(definitions)
        const layer = Executor.layer.pipe(
          Layer.provide(ExecutorConfig.layer({ registerTimeout: "1 second", heartbeatInterval: "100 millis", ...config })),
          Layer.provide(Layer.succeed(StageCatalog, catalog)),
          Layer.provide(Layer.succeed(Bus, bus)),
          Layer.provide(Layer.succeed(BlobStore, blobs)),
          Layer.provide(Layer.succeed(Subjects, names))
        )
        const context = yield* Layer.buildWithScope(layer, scope)
        const replica: Replica = { executor: Context.get(context, Executor), catalog, stop: Scope.close(scope, Exit.void) }
        return replica
      })

    /**
     * Answers `stage.register` like a registry: each stage is accepted unless
     * `reject` returns a rejection for its type. Returns the registrations seen.
     */
    const answerRegistrations = (reject: (type: string) => StageRejection | undefined = () => undefined) =>
      Effect.gen(function* () {
        const seen = yield* Ref.make<ReadonlyArray<StageRegistration>>([])
        const decodeRegistration = Codec.decode(StageRegistration, WireType.StageRegistration)
        const requests = yield* bus.subscribe(names.stageRegister)
        yield* Effect.forkScoped(
          Stream.runForEach(requests, (message) =>
            Effect.gen(function* () {
              const registration = yield* decodeRegistration(message)
              yield* Ref.update(seen, (all) => [...all, registration])
              const decisions = registration.stages.map((stage) => {
                const type = Schema.is(Schema.Struct({ type: Schema.String }))(stage) ? stage.type : "?"
                const rejection = reject(type)
                return new StageDecision({ type, accepted: rejection === undefined, ...(rejection === undefined ? {} : { rejection }) })
              })
              const reply = Codec.encode(RegistrationReply, WireType.RegistrationReply, new RegistrationReply({ version: 1, decisions }))
              yield* bus.respond(message, reply.data, { headers: reply.headers })
            }).pipe(Effect.ignore)
          )
        )
        return Ref.get(seen)
      })

    /** Runs the registry service on this bus for the rest of the test. */
    const startRegistry = Layer.build(
      Registry.layer.pipe(Layer.provide(Layer.succeed(Bus, bus)), Layer.provide(Layer.succeed(Subjects, names)))
    )

    /** A registry client on this bus. */
    const registryClient = Effect.provide(
      Effect.gen(function* () {
        return yield* RegistryClient
      }),
      RegistryClient.layer.pipe(Layer.provide(Layer.succeed(Bus, bus)), Layer.provide(Layer.succeed(Subjects, names)))
    )

    return {
      bus,
      names,
      submit,
      seqOf,
      startRegistry,
      registryClient,
      received: Ref.get(received),
      resultsOf,
      resultOf,
      startReplica,
      answerRegistrations
    }
  })

/** What probe stages observed. */
export interface Probe {
  /** How many times each task started. */
  readonly starts: Map<string, number>
  /** Tasks whose `ctx.signal` was aborted. */
  readonly aborted: Set<string>
  readonly definitions: {
    /** `probe.sleep`: sleeps `ms` (an Effect, interruptible). */
    readonly sleep: StageDefinition
    /** `probe.hang`: a Promise that settles only when its signal aborts. */
    readonly hang: StageDefinition
    /** `probe.throw`: throws a `TypeError`. */
    readonly throws: StageDefinition
  }
}

/** Probe stages with fresh records. */
export const makeProbe = (): Probe => {
  const starts = new Map<string, number>()
  const aborted = new Set<string>()
  const started = (taskId: string) => starts.set(taskId, (starts.get(taskId) ?? 0) + 1)
  const common = { version: "1.0.0", description: "test probe", plugin: "probe", stateKey: null, output: "none", count: "none" } as const
  return {
    starts,
    aborted,
    definitions: {
      sleep: defineStage({
        ...common,
        type: "probe.sleep",
        inputs: Schema.Struct({ ms: Schema.Int }),
        outputs: Schema.Struct({ sleptMs: Schema.Int }),
        run: ({ ms }, ctx) => Effect.sync(() => started(ctx.taskId)).pipe(Effect.andThen(Effect.sleep(ms)), Effect.as({ sleptMs: ms }))
      }),
      hang: defineStage({
        ...common,
        type: "probe.hang",
        inputs: Schema.Unknown,
        outputs: Schema.Null,
        run: (_, ctx) => {
          started(ctx.taskId)
          return new Promise<null>((resolve) =>
            ctx.signal.addEventListener("abort", () => {
              aborted.add(ctx.taskId)
              resolve(null)
            })
          )
        }
      }),
      throws: defineStage({
        ...common,
        type: "probe.throw",
        inputs: Schema.Unknown,
        outputs: Schema.Null,
        run: (_, ctx) => {
          started(ctx.taskId)
          return JSON.parse("{not json") as null
        }
      })
    }
  }
}

export { StageRejection }
export type { Names }
