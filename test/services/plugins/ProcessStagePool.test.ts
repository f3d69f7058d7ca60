import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, Scope } from "effect"
import { loadManifestFile, processStages } from "../../../services/plugins/index.ts"
import type { StageDefinition } from "../../../schemas/Stage.ts"
import { eventually } from "../../support/eventually.ts"
import { isGone } from "../../support/processes.ts"
import { runStage } from "../../support/stages.ts"

const actions = fileURLToPath(new URL("../runtimes/fixtures/pooled.ts", import.meta.url))

const manifest = (extra: string) => `name: pooled
namespace: test
version: 1.0.0
description: Reports its process.
runtime: process
entry: ./index.ts
${extra}stages:
  - { name: pid, description: Reports the pid, output: set, stateKey: pid, count: one }
  - { name: other, description: Reports the pid too, output: set, stateKey: other, count: one }
  - { name: crash, description: Exits, output: none, count: none }
`

/** A plugin folder whose entry re-exports the fixture actions; removed when the scope closes. */
const pluginFolder = (extra: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = await mkdtemp(join(tmpdir(), "switchyard-pooled-"))
      await writeFile(join(dir, "plugin.yaml"), manifest(extra))
      await writeFile(join(dir, "index.ts"), `export * from ${JSON.stringify(actions)}\n`)
      return dir
    }),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )

const definitionsIn = (dir: string) => loadManifestFile(join(dir, "plugin.yaml")).pipe(Effect.flatMap((loaded) => processStages(loaded)))

let taskCounter = 0
const execute = (definitions: ReadonlyArray<StageDefinition>, type: string) => {
  const definition = definitions.find((candidate) => candidate.metadata.type === type)!
  return runStage(definition, {}, { taskId: `t-${++taskCounter}`, runId: "r-1", stage: "s", attempt: 1 })
}

const pidOf = (definitions: ReadonlyArray<StageDefinition>, type: string) =>
  execute(definitions, type).pipe(Effect.map((output) => (output as { pid: number }).pid))

describe("processStages with a warm pool", () => {
  it.live("serves every action of the plugin from the same process and kills it when the scope closes", () =>
    Effect.gen(function* () {
      const dir = yield* pluginFolder("permission: trusted\npool: { size: 1, maxTasksPerProcess: 10 }\n")
      const scope = yield* Scope.make()
      const definitions = yield* definitionsIn(dir).pipe(Scope.provide(scope))
      const pids = [
        yield* pidOf(definitions, "test/pooled.pid"),
        yield* pidOf(definitions, "test/pooled.other"),
        yield* pidOf(definitions, "test/pooled.pid")
      ]
      assert.strictEqual(new Set(pids).size, 1)
      assert.isFalse(isGone(pids[0]!))
      yield* Scope.close(scope, Exit.void)
      yield* eventually("the pool's process is gone", () => isGone(pids[0]!))
    }).pipe(Effect.scoped, Effect.provide(Logger.layer([])))
  )

  it.live("fails a task whose pooled process exits and serves the next task from a new process", () =>
    Effect.gen(function* () {
      const dir = yield* pluginFolder("pool:\n  size: 1\n")
      const definitions = yield* definitionsIn(dir)
      const before = yield* pidOf(definitions, "test/pooled.pid")
      const failure = yield* Effect.flip(execute(definitions, "test/pooled.crash"))
      assert.strictEqual(failure.tag, "ProcessExitError")
      assert.strictEqual(failure.stageType, "test/pooled.crash")
      assert.include(failure.message, "exited with code 7")
      assert.include(failure.message, "crashing")
      const after = yield* pidOf(definitions, "test/pooled.pid")
      assert.notStrictEqual(after, before)
    }).pipe(Effect.scoped, Effect.provide(Logger.layer([])))
  )

  it.live("runs each task of a plugin without a pool in a fresh process", () =>
    Effect.gen(function* () {
      const dir = yield* pluginFolder("")
      const definitions = yield* definitionsIn(dir)
      const first = yield* pidOf(definitions, "test/pooled.pid")
      const second = yield* pidOf(definitions, "test/pooled.pid")
      assert.notStrictEqual(first, second)
    }).pipe(Effect.scoped, Effect.provide(Logger.layer([])))
  )
})
