import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { StageResolveReply } from "../../../../schemas/Registry.ts"
import { RegisteredStage } from "../../../../schemas/Registry.ts"
import { makePoolWatch } from "../../../../services/scheduler/internal/poolWatch.ts"
import type { WatchedTask } from "../../../../services/scheduler/internal/poolWatch.ts"
import { stage } from "../fixtures.ts"

/** A registry that knows `hello.greet` in `pool`, online or not, and nothing else. */
const registry = (pool: string, online: boolean) => (types: ReadonlyArray<string>) =>
  Effect.succeed(
    new StageResolveReply({
      version: 1,
      found: types.includes("hello.greet") ? [new RegisteredStage({ ...stage({ type: "hello.greet" }), pool, online })] : [],
      missing: types.filter((type) => type !== "hello.greet").map((type) => ({ type, suggestions: [] }))
    })
  )

const task = (fields: Partial<WatchedTask> = {}): WatchedTask => ({
  runId: "r1",
  stage: "greet",
  stageType: "hello.greet",
  taskId: "r1.greet",
  attempt: 1,
  pool: "test",
  since: 0,
  ...fields
})

const watch = (options: { readonly pool: string; readonly online: boolean; readonly owed?: (task: WatchedTask) => boolean }) => {
  const reported: Array<string> = []
  const pools = makePoolWatch({
    after: Duration.seconds(30),
    owed: options.owed ?? (() => true),
    resolve: registry(options.pool, options.online),
    report: (task) => Effect.sync(() => reported.push(`${task.stage}@${task.pool}`))
  })
  return { pools, reported }
}

describe("the pool watch", () => {
  it.effect("reports a task whose pool went offline once it waited the threshold, and only once", () =>
    Effect.gen(function* () {
      const { pools, reported } = watch({ pool: "test", online: false })
      pools.watch(task())
      yield* TestClock.adjust("29 seconds")
      yield* pools.check
      expect(reported).toEqual([])
      yield* TestClock.adjust("1 second")
      yield* pools.check
      yield* pools.check
      expect(reported).toEqual(["greet@test"])
    })
  )

  it.effect("reports a task whose type is unknown or served by another pool, but not one its live pool serves", () =>
    Effect.gen(function* () {
      const moved = watch({ pool: "elsewhere", online: true })
      moved.pools.watch(task())
      moved.pools.watch(task({ stage: "ghost", stageType: "hello.ghost", taskId: "r1.ghost" }))
      const live = watch({ pool: "test", online: true })
      live.pools.watch(task())
      yield* TestClock.adjust("1 minute")
      yield* moved.pools.check
      yield* live.pools.check
      expect(moved.reported.sort()).toEqual(["ghost@test", "greet@test"])
      expect(live.reported).toEqual([])
    })
  )

  it.effect("forgets a task whose result arrived or whose stage moved on", () =>
    Effect.gen(function* () {
      const { pools, reported } = watch({ pool: "test", online: false, owed: (t) => t.stage !== "moved" })
      pools.watch(task())
      pools.watch(task({ stage: "moved", taskId: "r1.moved" }))
      pools.answered({ taskId: "r1.greet", attempt: 1 })
      yield* TestClock.adjust("1 minute")
      yield* pools.check
      expect(reported).toEqual([])
    })
  )
})
