/**
 * The plugin benchmark (`npm run bench:plugins`): what the plugin system
 * costs, side by side in one run. Per-task overhead of a no-op action run
 * inline (a `defineStage` no-op executed directly), on a warm pool and in a
 * fresh process, next to a plain node child echoing lines over stdin/stdout
 * (the floor of a warm round trip) and a plain `node -e 0` spawn (the floor
 * of a fresh process), each runtime's sequential tasks measured in rounds
 * alternating with its baseline's; discovery of 1,000 plugin folders; resolving one
 * stage type among 10,000 registered; the heap 10,000 registrations take.
 * Then the targets with the measured figures and whether each is met. It
 * never fails on a time: it exits 0 whenever it ran.
 *
 * Options: `--scale <n>` multiplies every sample count (default 1);
 * `--only <list>` runs some of `inline,workdir,warm,fresh,discovery,registry`.
 */
import { randomUUID } from "node:crypto"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Effect, Layer, References } from "effect"
import { noop as inlineNoop } from "../plugins/hello/stages.ts"
import { StageRegistration } from "../schemas/Registry.ts"
import * as MemoryBus from "../services/bus/MemoryBus.ts"
import { makeNames, Subjects } from "../schemas/Subjects.ts"
import { discoverPlugins } from "../services/plugins/index.ts"
import { Registry } from "../services/registry/index.ts"
import type { PluginTask, ProcessOutcome } from "../services/runtimes/index.ts"
import { makeProcessPool, runInProcess } from "../services/runtimes/index.ts"
import { makeWorkDirs } from "../services/runtimes/internal/workDir.ts"
import { plainActionSpawn, plainSpawn, startEchoChild } from "./internal/childBaselines.ts"
import { place, type Placement, placementUnavailable, unpin } from "./internal/cpuPlacement.ts"
import { interleavedSequential } from "./internal/interleave.ts"
import type { EchoChild } from "./internal/childBaselines.ts"
import type { ScenarioResult } from "./internal/rawNats.ts"
import { type Row, scenarioTable, type Target, targetTable } from "./internal/report.ts"
import { concurrentEffect, sequentialEffect, timed } from "./internal/stats.ts"
import { benchStageMetadata } from "./internal/benchStage.ts"

const sections = ["inline", "workdir", "warm", "fresh", "discovery", "registry"] as const
type Section = (typeof sections)[number]
const { values } = parseArgs({
  options: { scale: { type: "string", default: "1" }, only: { type: "string", default: sections.join(",") } }
})
const only = new Set(values.only.split(",").map((name) => name.trim()) as Array<Section>)
const scale = Number(values.scale)
const n = (count: number) => Math.max(1, Math.round(count * (Number.isFinite(scale) && scale > 0 ? scale : 1)))

/** Tasks in flight in every throughput measurement, and the warm pool's size. */
const inFlight = 2
const pluginFolders = 1000
const registeredTypes = 10_000

const noopEntry = fileURLToPath(new URL("./internal/noopPlugin.ts", import.meta.url))
const quiet = Layer.succeed(References.MinimumLogLevel, "Warn")
const progress = (text: string) => process.stderr.write(`${text} ...\n`)

let taskCounter = 0
const task = (): PluginTask => ({
  action: "noop",
  input: null,
  taskId: `t${++taskCounter}`,
  runId: "bench",
  attempt: 1,
  vars: {},
  secrets: {},
  timeout: "30 seconds"
})

const inline = Effect.gen(function* () {
  const once = inlineNoop.execute(null, { taskId: "t", runId: "bench", stage: "noop", attempt: 1 })
  const sequential = yield* sequentialEffect({ warmup: n(2000), samples: n(20_000), budgetSeconds: 5 }, once)
  const concurrent = yield* concurrentEffect({ warmup: n(2000), total: n(20_000), inFlight, budgetSeconds: 5 }, once)
  return { sequential, concurrent } satisfies ScenarioResult
})

/**
 * The part of a warm pool task that is the file system's: taking a directory, handing it back, and the
 * rename and emptiness check that follow once the event loop turns (which the yield lets happen here, as
 * a task's wait for its worker does).
 */
const workDir = Effect.gen(function* () {
  const dirs = yield* makeWorkDirs
  const once = Effect.sync(() => dirs.recycle(dirs.take())).pipe(Effect.andThen(Effect.yieldNow))
  const sequential = yield* sequentialEffect({ warmup: n(200), samples: n(2000), budgetSeconds: 5 }, once)
  const concurrent = yield* concurrentEffect({ warmup: n(200), total: n(2000), inFlight, budgetSeconds: 5 }, once)
  return { sequential, concurrent } satisfies ScenarioResult
}).pipe(Effect.scoped)

/** A warm pool of the no-op plugin, for the scope. */
const noopPool = makeProcessPool({ entry: noopEntry, env: [], size: inFlight })

const succeed = <E, R>(outcome: Effect.Effect<ProcessOutcome, E, R>) =>
  outcome.pipe(Effect.flatMap((result) => (result.status === "succeeded" ? Effect.void : Effect.die(new Error(result.error.message)))))

/** Pool and bare figures for one placement. */
interface WarmResult {
  readonly bare: ScenarioResult
  readonly pool: ScenarioResult
}

/**
 * A warm pool task against a bare warm child round trip, sequential ones interleaved, with the children
 * pinned to each placement in turn (or once, unpinned, where placements cannot be set).
 */
const warm = Effect.gen(function* () {
  const pool = yield* noopPool
  const children = yield* Effect.acquireRelease(
    Effect.promise(() => Promise.all(Array.from({ length: inFlight }, startEchoChild))),
    (started) => Effect.sync(() => started.forEach((child) => child.close()))
  )
  const free: Array<EchoChild> = [...children]
  const bare = Effect.promise(async () => {
    const child = free.pop()!
    await child.roundTrip()
    free.push(child)
  })
  const pooled = Effect.suspend(() => succeed(pool.run(task())))
  // Every worker of the pool is started before anything is pinned.
  yield* Effect.forEach(Array.from({ length: inFlight }), () => pooled, { concurrency: "unbounded", discard: true })
  const measure = Effect.gen(function* () {
    const [bareSeq, poolSeq] = yield* interleavedSequential({ warmup: n(300), rounds: 20, perRound: n(100) }, bare, pooled)
    if (bareSeq === undefined || poolSeq === undefined) return yield* Effect.die(new Error("two sides measured"))
    const concurrent = { warmup: n(300), total: n(2000), inFlight, budgetSeconds: 10 }
    return {
      bare: { sequential: bareSeq, concurrent: yield* concurrentEffect(concurrent, bare) },
      pool: { sequential: poolSeq, concurrent: yield* concurrentEffect(concurrent, pooled) }
    } satisfies WarmResult
  })
  const unavailable = placementUnavailable()
  if (unavailable !== undefined) return { unpinned: yield* measure, unavailable } as const
  const placed = (placement: Placement) =>
    Effect.sync(() => place(placement)).pipe(Effect.andThen(measure), Effect.ensuring(Effect.sync(unpin)))
  return { otherCore: yield* placed("other core"), sameCore: yield* placed("same core") } as const
}).pipe(Effect.scoped)

/**
 * A fresh process per task against a plain `node -e 0` spawn and a plain `node` spawn running the same
 * action by hand, sequential ones interleaved.
 */
const fresh = Effect.gen(function* () {
  const spawnOnce = Effect.promise(plainSpawn)
  const plainOnce = Effect.promise(() => plainActionSpawn(noopEntry, "noop"))
  const freshOnce = Effect.suspend(() => succeed(runInProcess({ ...task(), entry: noopEntry, env: [] })))
  const [spawnSeq, plainSeq, freshSeq] = yield* interleavedSequential(
    { warmup: 2, rounds: 10, perRound: n(4) },
    spawnOnce,
    plainOnce,
    freshOnce
  )
  const concurrent = { warmup: 2, total: n(40), inFlight, budgetSeconds: 20 }
  return {
    spawn: { sequential: spawnSeq!, concurrent: yield* concurrentEffect(concurrent, spawnOnce) } satisfies ScenarioResult,
    plain: { sequential: plainSeq!, concurrent: yield* concurrentEffect(concurrent, plainOnce) } satisfies ScenarioResult,
    fresh: { sequential: freshSeq!, concurrent: yield* concurrentEffect(concurrent, freshOnce) } satisfies ScenarioResult
  }
})

const manifestOf = (index: number) => `name: plugin-${index}
namespace: bench
version: 1.0.0
description: Benchmark plugin ${index}.
runtime: process
entry: ./index.ts
stages:
  - name: noop
    description: Does nothing.
    output: none
    count: none
  - name: echo
    description: Returns its input.
    stateKey: echo
    output: set
    count: one
`

/** Seconds of each of `runs` discoveries of 1,000 plugin folders made in a temporary project. */
const discovery = (runs: number) =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const projectDir = await mkdtemp(join(tmpdir(), "switchyard-bench-plugins-"))
      const pluginsDir = join(projectDir, "plugins")
      await mkdir(pluginsDir)
      for (let i = 0; i < pluginFolders; i++) {
        const dir = join(pluginsDir, `plugin-${String(i).padStart(4, "0")}`)
        await mkdir(dir)
        await writeFile(join(dir, "plugin.yaml"), manifestOf(i))
        await writeFile(join(dir, "index.ts"), "export {}\n")
      }
      return { projectDir, pluginsDir }
    }),
    ({ pluginsDir, projectDir }) =>
      Effect.forEach(Array.from({ length: runs }), () =>
        timed(discoverPlugins({ projectDir, config: { paths: [pluginsDir], prefer: new Map() } })).pipe(
          Effect.flatMap(({ seconds, value }) =>
            value.plugins.length === pluginFolders
              ? Effect.succeed(seconds)
              : Effect.die(new Error(`discovered ${value.plugins.length} of ${pluginFolders} plugins`))
          )
        )
      ),
    ({ projectDir }) => Effect.promise(() => rm(projectDir, { recursive: true, force: true }))
  )

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void
const heapUsed = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/**
 * Registers 10,000 stage types with an in-memory registry (heap measured
 * before and after, collected), then times resolving one known type.
 */
const registry = Effect.gen(function* () {
  const service = yield* Registry
  const types = Array.from({ length: registeredTypes }, (_, i) => `bench.stage${String(i).padStart(5, "0")}`)
  const before = heapUsed()
  const batch = 500
  for (let start = 0; start < types.length; start += batch) {
    const reply = yield* service.register(
      new StageRegistration({
        version: 1,
        pool: "bench",
        executorId: "bench-1",
        runtime: "inline",
        stages: types.slice(start, start + batch).map(benchStageMetadata)
      })
    )
    const refused = reply.decisions.filter((decision) => !decision.accepted)
    if (refused.length > 0) return yield* Effect.die(new Error(`registration refused: ${JSON.stringify(refused[0])}`))
  }
  const heapBytes = heapUsed() - before
  const lookups = n(200_000)
  const wanted = types.map((type) => [type])
  for (let i = 0; i < 10_000; i++) yield* service.resolve(wanted[i % types.length]!)
  const { seconds, value: found } = yield* timed(
    Effect.gen(function* () {
      let found = 0
      for (let i = 0; i < lookups; i++) found += (yield* service.resolve(wanted[(i * 7919) % types.length]!)).found.length
      return found
    })
  )
  if (found !== lookups) return yield* Effect.die(new Error(`resolved ${found} of ${lookups}`))
  return { heapBytes, resolveMicros: (seconds * 1e6) / lookups, lookups }
}).pipe(
  Effect.provide(
    Registry.layer.pipe(
      Layer.provideMerge(MemoryBus.layer),
      Layer.provideMerge(Layer.succeed(Subjects, makeNames(`pbench${randomUUID().slice(0, 8)}`)))
    )
  )
)

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect.pipe(Effect.provide(quiet)))
const p50 = (result: ScenarioResult) => result.sequential.latency.p50
const ms = (value: number) => `${value.toFixed(value < 1 ? 3 : 2)} ms`

const rows: Array<Row> = []
const targets: Array<Target> = []
if (only.has("inline")) {
  progress("measuring the inline no-op")
  rows.push({ name: "inline defineStage no-op (executed directly)", result: await run(inline) })
}
if (only.has("workdir")) {
  progress("measuring the per-task work directory alone")
  rows.push({ name: "warm pool task work dir alone (all of it)", result: await run(workDir) })
}
if (only.has("warm")) {
  progress("measuring the warm pool against a bare warm child")
  const measured = await run(warm)
  const warmRows = (label: string, result: WarmResult) => {
    rows.push({ name: `bare warm child round trip${label}`, result: result.bare })
    rows.push({ name: `warm pool no-op (size ${inFlight})${label}`, result: result.pool })
    targets.push({
      name: `warm pool task vs bare warm child round trip (p50)${label}`,
      measured: `${ms(p50(result.pool))} vs ${ms(p50(result.bare))} = ${(p50(result.pool) / p50(result.bare)).toFixed(2)}x`,
      goal: "<= 2x",
      met: p50(result.pool) <= 2 * p50(result.bare)
    })
  }
  if ("unpinned" in measured) {
    progress(`children not pinned: ${measured.unavailable}`)
    warmRows("", measured.unpinned)
  } else {
    warmRows(", other core", measured.otherCore)
    warmRows(", same core", measured.sameCore)
  }
}
if (only.has("fresh")) {
  progress("measuring a fresh process per task against plain node spawns")
  const { fresh: freshResult, plain: plainResult, spawn: spawnResult } = await run(fresh)
  rows.push({ name: "plain node -e 0 spawn", result: spawnResult })
  rows.push({ name: "plain node spawn running the no-op by hand", result: plainResult })
  rows.push({ name: "fresh process no-op (runInProcess)", result: freshResult })
  const over = (baseline: ScenarioResult) =>
    `${ms(p50(freshResult))} vs ${ms(p50(baseline))} = +${((p50(freshResult) / p50(baseline) - 1) * 100).toFixed(0)} %`
  targets.push(
    {
      name: "fresh process task vs plain node spawn of the same action (p50)",
      measured: over(plainResult),
      goal: "<= +10 %",
      met: p50(freshResult) <= 1.1 * p50(plainResult)
    },
    {
      name: "fresh process task vs plain node -e 0 spawn (p50)",
      measured: over(spawnResult),
      goal: "<= +10 %",
      met: p50(freshResult) <= 1.1 * p50(spawnResult)
    }
  )
}
if (only.has("discovery")) {
  progress(`measuring discovery of ${pluginFolders} plugin folders`)
  const discoverySeconds = await run(discovery(5))
  const sortedDiscovery = [...discoverySeconds].sort((a, b) => a - b)
  const discoveryMedian = sortedDiscovery[Math.floor(sortedDiscovery.length / 2)]!
  targets.push({
    name: `discovery of ${pluginFolders} plugin folders (median of ${discoverySeconds.length})`,
    measured: `${(discoveryMedian * 1000).toFixed(0)} ms (first ${(discoverySeconds[0]! * 1000).toFixed(0)} ms, max ${(sortedDiscovery.at(-1)! * 1000).toFixed(0)} ms)`,
    goal: "< 1 s",
    met: discoveryMedian < 1
  })
}
if (only.has("registry")) {
  progress(`registering ${registeredTypes} stage types and resolving among them`)
  const registryResult = await run(registry)
  targets.push(
    {
      name: `Registry.resolve of one type among ${registeredTypes.toLocaleString("en-US")}`,
      measured: `${registryResult.resolveMicros.toFixed(2)} µs per resolve (${registryResult.lookups.toLocaleString("en-US")} resolves)`,
      goal: "< 1 µs",
      met: registryResult.resolveMicros < 1
    },
    {
      name: `heap of ${registeredTypes.toLocaleString("en-US")} registrations (in-memory registry and bus)`,
      measured: `${(registryResult.heapBytes / 1024 / 1024).toFixed(1)} MB`,
      goal: "< 50 MB",
      met: registryResult.heapBytes < 50 * 1024 * 1024
    }
  )
}

console.log(`
Plugins: per-task cost of a no-op action; seq = one at a time after a warm-up (each runtime interleaved with
the baseline below or above it); ops/s and @load = ${inFlight} in flight.
`)
console.log(scenarioTable(rows))
console.log("")
console.log(targetTable(targets))
