/**
 * Cancelling a run reaches the executors: its running tasks are stopped (an
 * inline stage sees its AbortSignal fire, a process stage's process group is
 * killed, grandchildren included), and `run.cancel` answers once they are.
 * Run once per bus adapter.
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, Schema } from "effect"
import type { Scope } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import { loadManifestFile, processStages } from "../../../services/plugins/index.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import { RunCancel } from "../../../schemas/Run.ts"
import { eventually } from "../../support/eventually.ts"
import { isGone, scratchDir } from "../../support/processes.ts"
import { makeStack } from "./harness.ts"

/** Task ids whose stage started, and those whose stage saw its AbortSignal fire. */
const started = new Set<string>()
const aborted = new Set<string>()

/** Waits `ms` milliseconds unless its signal fires first, and records that it did. */
const abortable = defineStage({
  type: "test.abortable",
  version: "1.0.0",
  description: "Waits, or stops when aborted.",
  plugin: "test",
  stateKey: null,
  output: "none",
  count: "none",
  inputs: Schema.Struct({ ms: Schema.Int }),
  outputs: Schema.Struct({}),
  run: ({ ms }, ctx) =>
    new Promise<{}>((resolve) => {
      started.add(ctx.taskId)
      const timer = setTimeout(() => resolve({}), ms)
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer)
        aborted.add(ctx.taskId)
      })
    })
})

const hangManifest = new URL("./plugins/hang/plugin.yaml", import.meta.url).pathname

const tempDir = scratchDir("switchyard-cancel-")

export const cancelSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>) =>
  describe(`Cancelling runs over ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(Layer.orDie(makeBus())))

    it.live("interrupts a running inline stage, whose AbortSignal fires, and answers once its executor stopped it", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("cancelinline")
          yield* stack.registry
          const executor = yield* stack.executor({ pool: "abortable", definitions: [abortable], shutdownGrace: "0 millis" })
          const scheduler = yield* stack.scheduler()
          yield* stack.registered(["test.abortable"])
          const reply = yield* stack.submit("name: long\nstages:\n  - { name: wait, type: test.abortable, inputs: { ms: 60000 } }\n")
          const runId = reply.runId!
          const taskId = `${runId}.wait`
          yield* eventually(
            "the stage to run on the executor",
            Effect.map(executor.service.inFlight, (n) => n === 1)
          )
          const before = yield* Clock.currentTimeMillis
          const answer = yield* scheduler.service.cancel(new RunCancel({ version: 1, runId, reason: "changed my mind" }))
          const tookMs = (yield* Clock.currentTimeMillis) - before
          expect(answer.cancelled).toBe(true)
          expect(aborted.has(taskId)).toBe(true)
          expect(answer.stopped).toEqual([taskId])
          expect(yield* executor.service.inFlight).toBe(0)
          // The stage would have run for a minute; the cancel waited for its executor, not for it.
          expect(tookMs).toBeLessThan(3000)
          const { finished } = yield* stack.finished(runId)
          expect(finished.status).toBe("cancelled")
          expect(finished.error?.message).toBe("changed my mind")
        })
      )
    )

    it.live("acks a task of a run cancelled while the task was still queued without running it", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("cancelqueued")
          yield* stack.registry
          // One slot: the second run's task stays queued while the first run's task runs.
          const executor = yield* stack.executor({ pool: "abortable", definitions: [abortable], slots: 1, shutdownGrace: "0 millis" })
          const scheduler = yield* stack.scheduler({ cancelConfirmTimeout: Duration.millis(300) })
          yield* stack.registered(["test.abortable"])
          const pipeline = (ms: number) => `name: queued\nstages:\n  - { name: wait, type: test.abortable, inputs: { ms: ${ms} } }\n`
          const first = (yield* stack.submit(pipeline(60000))).runId!
          yield* eventually(
            "the first run's task to run",
            Effect.map(executor.service.inFlight, (n) => n === 1)
          )
          const queued = (yield* stack.submit(pipeline(60000))).runId!
          yield* eventually(
            "the queued run's stage to be dispatched",
            Effect.map(stack.eventsOf(queued), (events) => events.some((e) => e.kind === "stage.started"))
          )
          const queuedAnswer = yield* scheduler.service.cancel(new RunCancel({ version: 1, runId: queued }))
          expect(queuedAnswer.cancelled).toBe(true)
          expect(queuedAnswer.stopped).toBeUndefined()
          yield* scheduler.service.cancel(new RunCancel({ version: 1, runId: first }))
          // Queued behind the cancelled run's task: once this run is done, that task was taken.
          const last = (yield* stack.submit(pipeline(1))).runId!
          const { finished } = yield* stack.finished(last)
          expect(finished.status).toBe("succeeded")
          expect(started.has(`${first}.wait`)).toBe(true)
          expect(started.has(`${queued}.wait`)).toBe(false)
        })
      )
    )

    it.live("kills a process stage's process and the grandchild it started when its run is cancelled", () =>
      run(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const pidFile = join(dir, "pids")
          const definitions = yield* processStages(yield* loadManifestFile(hangManifest), { killGrace: "300 millis" })
          const stack = yield* makeStack("cancelproc")
          yield* stack.registry
          const executor = yield* stack.executor({ pool: "process", definitions, shutdownGrace: "0 millis" })
          const scheduler = yield* stack.scheduler()
          yield* stack.registered(["test/hang.hang"])
          const reply = yield* stack.submit(
            "name: hang\nstages:\n  - { name: hang, type: test/hang.hang, inputs: { pidFile: '{{ inputs.pidFile }}' } }\n",
            { pidFile }
          )
          const runId = reply.runId!
          const pids = yield* eventually(
            "the plugin process and its grandchild to write their pids",
            Effect.tryPromise(() => readFile(pidFile, "utf8")).pipe(
              Effect.map((text) => text.split(" ").map(Number)),
              Effect.filterOrFail((numbers) => numbers.length === 2 && numbers.every((pid) => pid > 0))
            )
          )
          const answer = yield* scheduler.service.cancel(new RunCancel({ version: 1, runId }))
          for (const pid of pids) yield* eventually(`process ${pid} to be gone`, () => isGone(pid))
          expect(answer.stopped).toEqual([`${runId}.hang`])
          expect(yield* executor.service.inFlight).toBe(0)
          const { finished } = yield* stack.finished(runId)
          expect(finished.status).toBe("cancelled")
        })
      )
    )
  })
