/**
 * Gates over a real bus: a `gate` stage waits for the run's ledger, shows
 * what is unmet, passes on the update that meets it, fails with
 * `GateConditionError` when its time is up, has exactly one outcome however
 * updates race or repeat, and keeps waiting across a scheduler restart. Run
 * once per bus adapter.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, Option } from "effect"
import type { Scope } from "effect"
import { gate } from "../../../plugins/core/gate.ts"
import { stages as helloStages } from "../../../plugins/hello/index.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { LedgerUpdate, LedgerUpdateReply } from "../../../schemas/Run.ts"
import type { Bus } from "../../../services/bus/Bus.ts"
import * as Codec from "../../../schemas/Codec.ts"
import { eventually } from "../../support/eventually.ts"
import { makeStack } from "./harness.ts"
import { stageOf } from "../../support/events.ts"

const gated = (timeoutMs: number) => `
name: gated
stages:
  - name: wait-for-pdf
    type: core/core.gate
    inputs:
      timeout_ms: ${timeoutMs}
      conditions:
        all:
          - { field: pdf_ir_ready, equals: true }
          - { field: pages, gte: 1 }
  - { name: after, type: hello.greet, depends_on: [wait-for-pdf], inputs: { name: "{{ ledger.pages }} pages" } }
`

export const gateSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>) =>
  describe(`gates over ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(Layer.orDie(makeBus())))

    const setup = (label: string, schedulerClock?: Clock.Clock) =>
      Effect.gen(function* () {
        const stack = yield* makeStack(label)
        yield* stack.registry
        yield* stack.executor({ definitions: [...helloStages, gate] })
        const scheduler = yield* schedulerClock === undefined
          ? stack.scheduler()
          : stack.scheduler().pipe(Effect.provideService(Clock.Clock, schedulerClock))
        yield* stack.registered(["core/core.gate", "hello.greet"])
        const update = (runId: string, fields: Record<string, unknown>) => {
          const message = Codec.encode(
            LedgerUpdate,
            WireType.LedgerUpdate,
            new LedgerUpdate({ version: 1, runId, fields: fields as never })
          )
          return stack.bus.publish(stack.names.ledgerUpdate(runId), message.data, { headers: message.headers })
        }
        const waiting = (runId: string, unmet: ReadonlyArray<string>) =>
          eventually(
            `the gate to wait on ${unmet.join("; ")}`,
            Effect.gen(function* () {
              const doc = Option.getOrUndefined(yield* scheduler.service.get(runId))
              const stage = doc?.stages["wait-for-pdf"]
              if (stage?.status !== "waiting" || JSON.stringify(stage.waiting?.unmet) !== JSON.stringify(unmet))
                return yield* Effect.fail(JSON.stringify(stage))
            })
          )
        return { stack, scheduler, update, waiting }
      })

    it.live("waits showing the unmet conditions, re-evaluates on each ledger update, and passes once they hold", () =>
      run(
        Effect.gen(function* () {
          const { stack, update, waiting } = yield* setup("gatepass")
          const { runId } = yield* stack.submit(gated(60_000))
          yield* waiting(runId!, ["pdf_ir_ready equals true (missing)", "pages >= 1 (missing)"])
          yield* update(runId!, { pdf_ir_ready: true })
          yield* waiting(runId!, ["pages >= 1 (missing)"])
          yield* update(runId!, { pages: 3 })
          const { events, finished } = yield* stack.finished(runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ greeting: { greeting: "Hello, 3 pages!" } })
          const waits = events.filter((event) => event.kind === "stage.waiting").map((event) => event.waiting?.unmet)
          expect(waits).toEqual([["pdf_ir_ready equals true (missing)", "pages >= 1 (missing)"], ["pages >= 1 (missing)"]])
        })
      )
    )

    it.live("fails the run with GateConditionError naming what is unmet when its time is up; a later update is refused", () =>
      run(
        Effect.gen(function* () {
          const { stack, update, scheduler } = yield* setup("gatetimeout")
          const { runId } = yield* stack.submit(gated(400))
          yield* update(runId!, { pages: 2 })
          const { events, finished } = yield* stack.finished(runId!)
          expect(finished.status).toBe("failed")
          expect(finished.error?.tag).toBe("GateConditionError")
          expect(finished.error?.message).toMatch(
            /^stage "wait-for-pdf" failed after 1 attempt: gate "wait-for-pdf" gave up after 400 ms; unmet: pdf_ir_ready equals true \((missing|found .*)\)$/
          )
          // Waiting once or twice (the update may land before the first evaluation), then one failure.
          const kinds = events.filter((event) => stageOf(event) === "wait-for-pdf").map((event) => event.kind)
          expect(kinds[0]).toBe("stage.started")
          expect(kinds.at(-1)).toBe("stage.failed")
          expect(new Set(kinds.slice(1, -1))).toEqual(new Set(["stage.waiting"]))
          // An update after the timeout is answered, and changes nothing: the run keeps its one outcome.
          const late = Codec.encode(
            LedgerUpdate,
            WireType.LedgerUpdate,
            new LedgerUpdate({ version: 1, runId: runId!, fields: { pdf_ir_ready: true, pages: 2 } })
          )
          const answer = yield* stack.bus.request(stack.names.ledgerUpdate(runId!), late.data, {
            headers: late.headers,
            timeout: "10 seconds"
          })
          const reply = yield* Codec.decode(LedgerUpdateReply, WireType.LedgerUpdateReply)(answer)
          expect([reply.applied, reply.status]).toEqual([false, "failed"])
          expect((yield* stack.eventsOf(runId!)).length).toBe(events.length)
          const doc = Option.getOrThrow(yield* scheduler.service.get(runId!))
          expect(doc.ledger).toEqual({ pages: 2 })
          expect([doc.status, doc.stages["wait-for-pdf"]!.status, doc.stages.after!.status]).toEqual(["failed", "failed", "skipped"])
        })
      )
    )

    it.live("gives up at its deadline even when the scheduler's timer ends before the clock reads it", () =>
      run(
        Effect.gen(function* () {
          // As Node's timers can, counting from the event loop's cached time: here always a fifth early.
          const live = Clock.Clock.defaultValue()
          const early: Clock.Clock = {
            currentTimeMillisUnsafe: () => live.currentTimeMillisUnsafe(),
            currentTimeMillis: live.currentTimeMillis,
            currentTimeNanosUnsafe: () => live.currentTimeNanosUnsafe(),
            currentTimeNanos: live.currentTimeNanos,
            monotonicTimeNanosUnsafe: () => live.monotonicTimeNanosUnsafe(),
            monotonicTimeNanos: live.monotonicTimeNanos,
            sleep: (duration) => live.sleep(Duration.millis(Math.ceil(Duration.toMillis(duration) * 0.8)))
          }
          const { stack } = yield* setup("gateearly", early)
          const { runId } = yield* stack.submit(gated(300))
          const { finished } = yield* stack.finished(runId!, "5 seconds")
          expect(finished.status).toBe("failed")
          expect(finished.error?.tag).toBe("GateConditionError")
        })
      )
    )

    it.live("has exactly one outcome when the same update arrives twice", () =>
      run(
        Effect.gen(function* () {
          const { stack, update, waiting } = yield* setup("gatedup")
          const { runId } = yield* stack.submit(gated(60_000))
          yield* waiting(runId!, ["pdf_ir_ready equals true (missing)", "pages >= 1 (missing)"])
          yield* update(runId!, { pdf_ir_ready: true, pages: 1 })
          yield* update(runId!, { pdf_ir_ready: true, pages: 1 })
          const { events, finished } = yield* stack.finished(runId!)
          expect(finished.status).toBe("succeeded")
          const gateOutcomes = events.filter(
            (event) => stageOf(event) === "wait-for-pdf" && (event.kind === "stage.finished" || event.kind === "stage.failed")
          )
          expect(gateOutcomes.map((event) => event.kind)).toEqual(["stage.finished"])
        })
      )
    )

    it.live("keeps waiting across a scheduler restart and passes on an update sent to the new scheduler", () =>
      run(
        Effect.gen(function* () {
          const { stack, scheduler, waiting } = yield* setup("gaterestart")
          const { runId } = yield* stack.submit(gated(60_000))
          yield* waiting(runId!, ["pdf_ir_ready equals true (missing)", "pages >= 1 (missing)"])
          yield* scheduler.stop
          const replacement = yield* stack.scheduler()
          yield* eventually(
            "the new scheduler to have the run",
            Effect.gen(function* () {
              const doc = yield* replacement.service.get(runId!)
              if (Option.isNone(doc)) return yield* Effect.fail("not yet")
            })
          )
          const message = Codec.encode(
            LedgerUpdate,
            WireType.LedgerUpdate,
            new LedgerUpdate({ version: 1, runId: runId!, fields: { pdf_ir_ready: true, pages: 5 } })
          )
          yield* stack.bus.publish(stack.names.ledgerUpdate(runId!), message.data, { headers: message.headers })
          const { finished } = yield* stack.finished(runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ greeting: { greeting: "Hello, 5 pages!" } })
        })
      )
    )
  })
