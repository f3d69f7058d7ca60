/**
 * The Switchyard side of the dispatch benchmark. A run is measured the way a
 * user sees it: `SwitchyardClient.submitRun` (subscribe to the run's events,
 * `run.submit` request, scheduler validation against the registry, run
 * record created and saved, task enqueued, executed, result enqueued and
 * applied, record saved again) until `run.finished` arrives. For the
 * embedded bus it also takes the run apart: one run with a wide fan-out of
 * no-op stages, the executor fed `TaskRun` messages directly with results
 * consumed and acked as the scheduler would, and the in-memory work queue
 * alone.
 */
import { Duration, Effect, Stream } from "effect"
import { Bus } from "../../services/bus/Bus.ts"
import { encodePlain } from "../../schemas/Codec.ts"
import { schedulerConsumer, tasksStream } from "../../services/bus/Streams.ts"
import { Subjects } from "../../schemas/Subjects.ts"
import { poolConsumer } from "../../services/executor/index.ts"
import { SwitchyardClient } from "../../sdk/client.ts"
import { WireType } from "../../schemas/Catalog.ts"
import { benchPool, type DeploymentOptions, durable, embedded, embeddedExecutor, memoryBus } from "./deployment.ts"
import type { RawPlan, ScenarioResult } from "./rawNats.ts"
import { concurrentEffect, sequentialEffect, timed } from "./stats.ts"

/** A pipeline of `width` independent `hello.noop` stages (one stage: the dispatch benchmark's run). */
export const noopPipeline = (width: number): string =>
  [`name: bench-noop-${width}`, "stages:", ...Array.from({ length: width }, (_, i) => `  - name: noop${i}\n    type: hello.noop`)].join(
    "\n"
  ) + "\n"

/** Submits one run and waits for its `run.finished`; fails unless it succeeded. */
export const runToEnd = (client: SwitchyardClient["Service"], pipeline: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const run = yield* client.submitRun({ pipeline, file: "bench.yaml" })
      const last = yield* Stream.runLast(run.events)
      if (last._tag === "None" || last.value.kind !== "run.finished" || last.value.status !== "succeeded") {
        return yield* Effect.fail(new Error(`run ${run.runId} did not succeed: ${JSON.stringify(last)}`))
      }
    })
  )

/** Sequential latency and throughput with many in flight of one-stage no-op runs. */
const runScenario = (plan: RawPlan) =>
  Effect.gen(function* () {
    const client = yield* SwitchyardClient
    const pipeline = noopPipeline(1)
    const sequential = yield* sequentialEffect(plan.sequential, runToEnd(client, pipeline))
    const concurrent = yield* concurrentEffect(plan.concurrent, runToEnd(client, pipeline))
    return { sequential, concurrent } satisfies ScenarioResult
  })

/** Durable dispatch: every service on its own NATS connection. */
export const durableRuns = (url: string, options: DeploymentOptions, plan: RawPlan): Promise<ScenarioResult> =>
  Effect.runPromise(runScenario(plan).pipe(Effect.provide(durable(url, options))))

/** Embedded: every service on one in-memory bus. */
export const embeddedRuns = (options: DeploymentOptions, plan: RawPlan): Promise<ScenarioResult> =>
  Effect.runPromise(runScenario(plan).pipe(Effect.provide(embedded(options))))

/** Tasks per second of one embedded run of `width` parallel no-op stages (after a warm-up run). */
export const embeddedFanOut = (
  options: DeploymentOptions,
  width: number
): Promise<{ readonly tasksPerSec: number; readonly seconds: number }> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* SwitchyardClient
      const pipeline = noopPipeline(width)
      yield* runToEnd(client, pipeline)
      const { seconds } = yield* timed(runToEnd(client, pipeline))
      return { tasksPerSec: width / seconds, seconds }
    }).pipe(Effect.provide(embedded(options)))
  )

/** Feeds `count` tasks into a work queue and waits until `count` messages were consumed from `stream/durable` and acked. */
const feedAndDrain = (options: {
  readonly count: number
  readonly enqueueSubject: string
  readonly stream: string
  readonly durable: string
  readonly slots: number
  readonly task: (i: number) => { readonly data: Uint8Array; readonly headers: Record<string, string>; readonly msgId: string }
}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const bus = yield* Bus
      const messages = yield* bus.consume({ stream: options.stream, durable: options.durable, slots: options.slots })
      return yield* timed(
        Effect.gen(function* () {
          for (let i = 0; i < options.count; i++) {
            const task = options.task(i)
            yield* bus.enqueue(options.enqueueSubject, task.data, { msgId: task.msgId, headers: task.headers })
          }
          yield* messages.pipe(
            Stream.take(options.count),
            Stream.runForEach((message) => message.ack)
          )
        })
      )
    })
  )

let taskCounter = 0
const noopTask = (runId: string) => (_: number) => {
  const taskId = `${runId}-${taskCounter++}`
  const message = encodePlain(WireType.TaskRun, {
    version: 1,
    taskId,
    runId,
    stage: "noop",
    stageType: "hello.noop",
    attempt: 1,
    inputs: {}
  })
  return { data: message.data, headers: message.headers, msgId: `${taskId}:1` }
}

/**
 * The executor alone on the in-memory bus: `count` `TaskRun` messages enqueued
 * on its pool, every result consumed from the results stream and acked (what
 * the scheduler does before applying it). Returns tasks per second after a
 * warm-up of `warmup` tasks.
 */
export const embeddedExecutorPath = (options: DeploymentOptions, warmup: number, count: number): Promise<number> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const bus = yield* Bus
      const names = yield* Subjects
      const consumer = schedulerConsumer(names, { ackWait: "30 seconds", maxAckPending: options.resultConcurrency * 4 })
      yield* bus.ensureConsumer(consumer)
      const drain = (n: number) =>
        feedAndDrain({
          count: n,
          enqueueSubject: names.taskRun(benchPool),
          stream: consumer.stream,
          durable: consumer.durable,
          slots: options.resultConcurrency,
          task: noopTask("direct")
        })
      yield* drain(warmup)
      const { seconds } = yield* drain(count)
      return count / seconds
    }).pipe(Effect.provide(embeddedExecutor(options)))
  )

/**
 * The in-memory work queue alone: `count` task-sized messages enqueued on the
 * tasks stream, consumed and acked by one caller with `slots` slots under a
 * pool consumer's settings. Messages per second after a warm-up.
 */
export const memoryQueueFloor = (options: DeploymentOptions, warmup: number, count: number): Promise<number> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const bus = yield* Bus
      const names = yield* Subjects
      yield* bus.ensureStream(tasksStream(names))
      const consumer = poolConsumer(names, {
        pool: "floor",
        executorId: "floor",
        slots: options.slots,
        heartbeatInterval: Duration.seconds(5),
        ackWait: Duration.seconds(30),
        maxDeliver: 5,
        maxAckPending: options.slots * 4,
        crashLimit: 2,
        registerTimeout: Duration.seconds(5),
        shutdownGrace: Duration.seconds(30),
        progressInterval: Duration.seconds(10),
        maxResultBytes: 1_000_000,
        blobThreshold: 64 * 1024,
        vars: {}
      })
      yield* bus.ensureConsumer(consumer)
      const drain = (n: number) =>
        feedAndDrain({
          count: n,
          enqueueSubject: consumer.filterSubject,
          stream: consumer.stream,
          durable: consumer.durable,
          slots: options.slots,
          task: noopTask("floor")
        })
      yield* drain(warmup)
      const { seconds } = yield* drain(count)
      return count / seconds
    }).pipe(Effect.provide(memoryBus(options)))
  )
