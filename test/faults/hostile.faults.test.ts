/**
 * Hostile files refused by the real CLI, each with exit code 2 and a located
 * issue, well within a second's work (the bound asserted is a loose 10 s,
 * against the 30 s a request would wait): `switchyard run` embedded and with
 * `--nats`, and `switchyard plugin validate`, given alias bombs, deep
 * nesting, `__proto__`/`constructor`/`prototype` keys in a pipeline, its
 * stage config, a manifest or the run inputs, files over the size limit and
 * pipelines over the stage limit.
 */
import { assert, describe, it } from "@effect/vitest"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { runCli } from "../e2e/support/CliProcess.ts"
import { startStack } from "../e2e/support/Stack.ts"
import { ownNatsServer } from "../e2e/support/ownNatsServer.ts"
import { aliasBomb, greetPipeline } from "../support/hostileInputs.ts"

const natsUrl = ownNatsServer()

const forbidden = (key: string) =>
  `expected a key other than "__proto__", "constructor", "prototype" (they name JavaScript object internals), found "${key}"`

const greet = greetPipeline
const bomb = aliasBomb(6)

/** The hostile pipelines, each with the issue `switchyard run` prints for it. */
const pipelines: ReadonlyArray<{ readonly name: string; readonly text: string; readonly issue: string }> = [
  {
    name: "bomb.yaml",
    text: bomb,
    issue: "bomb.yaml:4:10: anchors.b[0]: expected aliases (*name) that expand to at most 100 copies of their anchors, found more"
  },
  {
    name: "deep.yaml",
    text: `${greet}    config:\n      x: ${"[".repeat(20_000)}${"]".repeat(20_000)}\n`,
    issue: `deep.yaml:10:107: stages[0].config.x${"[0]".repeat(98)}: expected at most 100 levels of nested mappings and lists, found more`
  },
  {
    name: "proto-config.yaml",
    text: `${greet}    config:\n      __proto__: { polluted: true }\n`,
    issue: `proto-config.yaml:10:7: stages[0].config.__proto__: ${forbidden("__proto__")}`
  },
  {
    name: "constructor-pipeline.yaml",
    text: `${greet}constructor: 1\n`,
    issue: `constructor-pipeline.yaml:9:1: constructor: ${forbidden("constructor")}`
  },
  {
    name: "prototype-inputs.yaml",
    text: greet.replace(`name: "{{ inputs.name }}"`, `name: "{{ inputs.name }}"\n      prototype: 1`),
    issue: `prototype-inputs.yaml:9:7: stages[0].inputs.prototype: ${forbidden("prototype")}`
  },
  {
    name: "big.yaml",
    text: `${greet}# ${"x".repeat(2 * 1024 * 1024)}\n`,
    issue: `big.yaml:1:1: expected at most 1048576 bytes (SWITCHYARD_MAX_PIPELINE_BYTES), found ${greet.length + 2 * 1024 * 1024 + 3} bytes`
  },
  {
    name: "many.yaml",
    text: `name: many\nstages:\n${Array.from({ length: 1_001 }, (_, index) => `  - { name: s${index}, type: hello.greet, inputs: { name: x } }\n`).join("")}`,
    issue: `many.yaml:1003:5: stage "s1000": stages[1000]: expected at most 1000 stages (SWITCHYARD_MAX_STAGES), found 1001`
  }
]

/** A temporary folder with the given files, removed when the scope closes. */
const folderWith = (files: Readonly<Record<string, string>>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = await mkdtemp(join(tmpdir(), "switchyard-hostile-"))
      for (const [name, text] of Object.entries(files)) {
        await mkdir(join(dir, name, ".."), { recursive: true })
        await writeFile(join(dir, name), text)
      }
      return dir
    }),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )

/** Runs the CLI in `cwd` and returns how it ended and how long it took. */
const timed = (label: string, args: ReadonlyArray<string>, options: { readonly cwd: string; readonly env?: Record<string, string> }) =>
  Effect.gen(function* () {
    const started = performance.now()
    const result = yield* runCli({ label, args, cwd: options.cwd, timeout: "60 seconds", ...(options.env ? { env: options.env } : {}) })
    return { ...result, ms: performance.now() - started }
  })

describe("hostile input is refused at once with a located issue", () => {
  it.live(
    "switchyard run, embedded, exits 2 for each hostile pipeline and names file, line, column and field",
    () =>
      Effect.gen(function* () {
        const dir = yield* folderWith(Object.fromEntries(pipelines.map(({ name, text }) => [name, text])))
        for (const { issue, name } of pipelines) {
          const run = yield* timed(`run ${name}`, ["run", name], { cwd: dir })
          assert.strictEqual(run.code, 2, `${name}: ${run.stderr}`)
          assert.strictEqual(run.stderr.trim(), issue, name)
          assert.strictEqual(run.stdout, "")
          assert.isBelow(run.ms, 10_000, name)
        }
      }),
    240_000
  )

  it.live(
    "switchyard run exits 2 for a run input named __proto__ or constructor, at the pipeline's inputs",
    () =>
      Effect.gen(function* () {
        const dir = yield* folderWith({ "greet.yaml": greet })
        for (const key of ["__proto__", "constructor"]) {
          const run = yield* timed(`run --input ${key}`, ["run", "greet.yaml", "--input", `${key}=x`], { cwd: dir })
          assert.strictEqual(run.code, 2, run.stderr)
          assert.strictEqual(run.stderr.trim(), `greet.yaml:3:3: inputs: run input ${key}: ${forbidden(key)}`)
          assert.isBelow(run.ms, 10_000)
        }
      }),
    60_000
  )

  it.live(
    "switchyard run takes its stage limit from SWITCHYARD_MAX_STAGES",
    () =>
      Effect.gen(function* () {
        const dir = yield* folderWith({ "greet.yaml": greet })
        const run = yield* timed("run with 0 stages allowed", ["run", "greet.yaml"], { cwd: dir, env: { SWITCHYARD_MAX_STAGES: "1" } })
        assert.strictEqual(run.code, 0, run.stderr)
        const refused = yield* timed("run with SWITCHYARD_MAX_STAGES=1", ["run", "many.yaml"], {
          cwd: yield* folderWith({ "many.yaml": pipelines.find((pipeline) => pipeline.name === "many.yaml")!.text }),
          env: { SWITCHYARD_MAX_STAGES: "1" }
        })
        assert.strictEqual(refused.code, 2, refused.stderr)
        assert.include(
          refused.stderr,
          `many.yaml:4:5: stage "s1": stages[1]: expected at most 1 stages (SWITCHYARD_MAX_STAGES), found 1001`
        )
      }),
    60_000
  )

  it.live(
    "switchyard run --nats refuses hostile pipelines before sending, and a submit larger than the server's max_payload naming it",
    () =>
      Effect.gen(function* () {
        const url = natsUrl()
        yield* startStack({ natsUrl: url, replicas: ["a"] })
        const huge = greet.replace("name: World", `name: ${"x".repeat(1_100_000)}`)
        const dir = yield* folderWith({ ...Object.fromEntries(pipelines.map(({ name, text }) => [name, text])), "huge.yaml": huge })
        for (const { issue, name } of pipelines.filter((pipeline) =>
          ["bomb.yaml", "proto-config.yaml", "big.yaml"].includes(pipeline.name)
        )) {
          const run = yield* timed(`run --nats ${name}`, ["run", name, "--nats", url], { cwd: dir })
          assert.strictEqual(run.code, 2, `${name}: ${run.stderr}`)
          assert.strictEqual(run.stderr.trim(), issue, name)
          assert.isBelow(run.ms, 10_000, name)
        }
        // Past the CLI's own size limit (raised here), the server's max_payload is the one that refuses.
        const run = yield* timed("run --nats huge.yaml", ["run", "huge.yaml", "--nats", url], {
          cwd: dir,
          env: { SWITCHYARD_MAX_PIPELINE_BYTES: "4000000" }
        })
        assert.strictEqual(run.code, 2, run.stderr)
        assert.match(
          run.stderr.trim(),
          /^huge\.yaml:1:1: expected a pipeline and inputs that fit in one message: the run\.submit request is \d+ bytes, over the 1048576 bytes the server takes in one message \(its max_payload\)$/
        )
        assert.isBelow(run.ms, 10_000)
      }),
    240_000
  )

  it.live(
    "switchyard plugin validate exits 2 for a hostile manifest and names file, line, column and field",
    () =>
      Effect.gen(function* () {
        const manifest = `name: local/hostile
version: 0.1.0
runtime: process
entry: ./index.ts
stages:
  - name: greet
    description: Greets.
`
        const manifests = [
          {
            name: "bomb/plugin.yaml",
            text: `${manifest}${bomb.replace("name: bomb\n", "").replace(/stages:[\s\S]*$/, "")}`,
            issue:
              "bomb/plugin.yaml:10:10: anchors.b[0]: expected aliases (*name) that expand to at most 100 copies of their anchors, found more"
          },
          {
            name: "deep/plugin.yaml",
            text: `${manifest}    inputs: ${"{a: ".repeat(200)}1${"}".repeat(200)}\n`,
            issue: `deep/plugin.yaml:8:${13 + 4 * 98}: stages[0].inputs${".a".repeat(98)}: expected at most 100 levels of nested mappings and lists, found more`
          },
          {
            name: "proto/plugin.yaml",
            text: `${manifest}    inputs:\n      __proto__: { type: object }\n`,
            issue: `proto/plugin.yaml:9:7: stages[0].inputs.__proto__: ${forbidden("__proto__")}`
          },
          {
            name: "big/plugin.yaml",
            text: `${manifest}# ${"x".repeat(2 * 1024 * 1024)}\n`,
            issue: `big/plugin.yaml:1:1: expected at most 1048576 bytes, found ${manifest.length + 2 * 1024 * 1024 + 3} bytes`
          }
        ]
        const dir = yield* folderWith(Object.fromEntries(manifests.map(({ name, text }) => [name, text])))
        for (const { issue, name } of manifests) {
          const result = yield* timed(`plugin validate ${name}`, ["plugin", "validate", name], { cwd: dir })
          assert.strictEqual(result.code, 2, `${name}: ${result.stderr}`)
          assert.strictEqual(result.stderr.trim(), issue, name)
          assert.isBelow(result.ms, 10_000, name)
        }
      }),
    120_000
  )
})
