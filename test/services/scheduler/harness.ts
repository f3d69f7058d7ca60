/**
 * A whole Switchyard on one bus for scheduler tests: unique names, the
 * registry, executor replicas and schedulers that a test can stop and start
 * again (a restart), run submission over `run.submit`, and a collector of
 * every `run.event.*` message.
 */
import { Context, Duration, Effect, Exit, Layer, Option, Redacted, Ref, Scope, Stream } from "effect"
import { Bus } from "../../../services/bus/Bus.ts"
import { BlobStore } from "../../../services/bus/BlobStore.ts"
import { blobStoreFor } from "../../support/blobs.ts"
import * as Codec from "../../../schemas/Codec.ts"
import { makeNames, Subjects } from "../../../schemas/Subjects.ts"
import { Executor, ExecutorConfig, SecretSource, StageCatalog } from "../../../services/executor/index.ts"
import type { ExecutorOptions } from "../../../services/executor/index.ts"
import { Registry, RegistryClient } from "../../../services/registry/index.ts"
import { RunStore, Scheduler, SchedulerConfig } from "../../../services/scheduler/index.ts"
import type { SchedulerSettings } from "../../../services/scheduler/index.ts"
import type { StageDefinition } from "../../../sdk/defineStage.ts"
import { stages as helloStages } from "../../../plugins/hello/index.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { RunEvent, RunSubmit, RunSubmitReply } from "../../../schemas/Run.ts"
import { eventually } from "../../support/eventually.ts"
import { uniquePrefix } from "../../support/unique.ts"
import { isKind, stageOf } from "../../support/events.ts"

/** Something started for the rest of the test that can also be stopped early. */
export interface Started<A> {
  readonly service: A
  readonly stop: Effect.Effect<void>
}

/** Sets up one isolated deployment on the current bus. */
export const makeStack = (label: string) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const names = makeNames(uniquePrefix(label))
    const blobs = yield* blobStoreFor(names)
    const base = Layer.mergeAll(Layer.succeed(Bus, bus), Layer.succeed(Subjects, names), Layer.succeed(BlobStore, blobs))

    const start = <A, I>(tag: Context.Key<I, A>, layer: Layer.Layer<I, unknown, Bus>) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        const context = yield* Layer.buildWithScope(Layer.provide(layer, base), scope).pipe(Effect.orDie)
        return { service: Context.get(context, tag), stop: Scope.close(scope, Exit.void) } satisfies Started<A>
      })

    const events = yield* Ref.make<ReadonlyArray<RunEvent>>([])
    const decodeEvent = Codec.decode(RunEvent, WireType.RunEvent)
    const subscription = yield* bus.subscribe(names.runEventAll)
    yield* Effect.forkScoped(
      Stream.runForEach(subscription, (message) =>
        decodeEvent(message).pipe(
          Effect.flatMap((event) => Ref.update(events, (all) => [...all, event])),
          Effect.ignore
        )
      )
    )

    const registry = start(Registry, Registry.layer)

    const executor = (
      options: Partial<ExecutorOptions> & {
        readonly definitions?: ReadonlyArray<StageDefinition>
        /** The executor's own secret source, as key → value. */
        readonly secrets?: Readonly<Record<string, string>>
      } = {}
    ) => {
      const { definitions = helloStages, secrets = {}, ...config } = options
      return start(
        Executor,
        Executor.layer.pipe(
          Layer.provide(ExecutorConfig.layer({ pool: "hello", heartbeatInterval: "200 millis", ...config })),
          Layer.provide(StageCatalog.layer(definitions)),
          Layer.provide(RegistryClient.layer),
          Layer.provide(
            Layer.succeed(SecretSource, {
              lookup: (key) => Effect.succeed(Option.map(Option.fromUndefinedOr(secrets[key]), (value) => Redacted.make(value)))
            })
          )
        ) as Layer.Layer<Executor, unknown, Bus>
      )
    }

    /** A scheduler; `options.bus` gives it its own view of the bus (say, one whose publishes fail). */
    const scheduler = (
      settings: Partial<SchedulerSettings> = {},
      options: { readonly bus?: (bus: Bus["Service"]) => Bus["Service"] } = {}
    ) =>
      start(
        Scheduler,
        Scheduler.layer.pipe(
          Layer.provide(RunStore.layer),
          Layer.provide(RegistryClient.layer),
          Layer.provide(SchedulerConfig.layer({ resultAckWait: Duration.seconds(5), ...settings })),
          Layer.provide(options.bus === undefined ? Layer.empty : Layer.succeed(Bus, options.bus(bus)))
        ) as Layer.Layer<Scheduler, unknown, Bus>
      )

    /** Sends `run.submit` and returns the reply. */
    const submit = (text: string, inputs: Record<string, string> = {}, file = "test.yaml") =>
      Effect.gen(function* () {
        const request = Codec.encode(RunSubmit, WireType.RunSubmit, new RunSubmit({ version: 1, file, text, inputs }))
        const reply = yield* bus.request(names.runSubmit, request.data, { timeout: "10 seconds", headers: request.headers })
        return yield* Codec.decode(RunSubmitReply, WireType.RunSubmitReply)(reply)
      })

    /** Events of one run so far. */
    const eventsOf = (runId: string) => Effect.map(Ref.get(events), (all) => all.filter((event) => event.runId === runId))

    /** Waits for a run's `run.finished` event and returns it with all events of the run. */
    const finished = (runId: string, timeout: Duration.Input = "20 seconds") =>
      eventually(
        `run ${runId} to finish`,
        Effect.gen(function* () {
          const all = yield* eventsOf(runId)
          const last = all.find(isKind("run.finished"))
          if (last === undefined)
            return yield* Effect.fail(
              all.map((event) => `${event.kind}${stageOf(event) ? `:${stageOf(event)}` : ""}`).join(", ") || "no events"
            )
          return { finished: last, events: all }
        }),
        { timeout }
      )

    /** Waits until the registry lists every given stage type. */
    const registered = (types: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const client = yield* Effect.provide(Effect.service(RegistryClient), Layer.provide(RegistryClient.layer, base))
        yield* eventually(
          `stage types ${types.join(", ")} registered`,
          Effect.gen(function* () {
            const reply = yield* client.resolve(types)
            if (reply.missing.length > 0) return yield* Effect.fail(`missing ${reply.missing.map((m) => m.type).join(", ")}`)
          })
        )
      })

    return {
      bus,
      blobs,
      names,
      registry,
      executor,
      scheduler,
      submit,
      eventsOf,
      finished,
      registered,
      events: Ref.get(events),
      unwrap: Option.getOrThrow
    }
  })
