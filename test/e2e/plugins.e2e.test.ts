/**
 * Discovered plugins end to end, as an operator runs them: in a project of
 * its own, a plugin folder dropped into `./plugins` and a plugin installed as
 * an npm package in `./node_modules` are listed by `switchyard plugin list`,
 * loaded and registered over NATS by `switchyard executor --runtime process`
 * started in that project, and run by `switchyard run --nats`. Removing the
 * plugin folder deregisters its stage type while the executor runs and
 * putting it back registers it again; stopping the executor deregisters the
 * rest. The audit stream holds the loads,
 * registrations and deregistrations.
 */
import { cp, mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema, Stream } from "effect"
import { Bus } from "../../services/bus/Bus.ts"
import { decode } from "../../schemas/Codec.ts"
import * as NatsBus from "../../services/bus/NatsBus.ts"
import { makeNames } from "../../schemas/Subjects.ts"
import { AuditEntry, AuditEntryType, RegistryClient } from "../../services/registry/index.ts"
import { collect } from "../support/collect.ts"
import { eventually } from "../support/eventually.ts"
import { readyTimeout, repoRoot, runCli, spawnCli } from "./support/CliProcess.ts"
import { runPipeline } from "./support/Stack.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"

const examplePlugin = join(repoRoot, "examples", "plugins", "hello-process")
const sdkDir = fileURLToPath(new URL("../../sdk", import.meta.url))
const effectDir = fileURLToPath(new URL("../../node_modules/effect", import.meta.url))

const greetType = "examples/hello-process.greet"
const waveType = "e2e/wave.wave"

const natsUrl = ownNatsServer()

const waveManifest = `name: wave
namespace: e2e
version: 1.0.0
description: Waves at someone from a child process.
runtime: process
entry: ./actions.js
permission: trusted
stages:
  - name: wave
    description: Returns a wave for the given name.
    stateKey: waved
    output: set
    count: one
    timeout: 10s
`

// Published packages ship JavaScript: Node does not strip types under node_modules.
const waveActions = `import { Schema } from "effect"
import { defineAction } from "@switchyard/sdk"

export const wave = defineAction({
  name: "wave",
  description: "Returns a wave for the given name.",
  inputs: Schema.Struct({ to: Schema.String }),
  outputs: Schema.String,
  run: ({ to }) => \`waves at \${to}\`
})
`

const pipeline = `name: plugins
stages:
  - name: greet
    type: ${greetType}
    inputs: { name: Ada }
  - name: wave
    type: ${waveType}
    inputs: { to: Grace }
`

/**
 * A project with the hello-process example copied into `./plugins` and the
 * wave package installed under `./node_modules/@e2e/wave`, next to an
 * installed `effect` and this repository's `@switchyard/sdk`. Each plugin is
 * written elsewhere and moved into place, as an installer does.
 */
const dropExamplePlugin = async (dir: string, staged: string) => {
  const staging = join(dir, ".staging", staged)
  await cp(examplePlugin, staging, { recursive: true })
  await mkdir(join(dir, "plugins"), { recursive: true })
  await rename(staging, join(dir, "plugins", "hello-process"))
}

const project = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-plugins-e2e-"))
    const staging = join(dir, ".staging")
    await dropExamplePlugin(dir, "first")

    const wave = join(staging, "wave")
    await mkdir(wave, { recursive: true })
    await writeFile(
      join(wave, "package.json"),
      JSON.stringify({ name: "@e2e/wave", version: "1.0.0", type: "module", switchyard: { plugin: "./plugin.yaml" } })
    )
    await writeFile(join(wave, "plugin.yaml"), waveManifest)
    await writeFile(join(wave, "actions.js"), waveActions)
    await mkdir(join(dir, "node_modules", "@e2e"), { recursive: true })
    await rename(wave, join(dir, "node_modules", "@e2e", "wave"))
    await symlink(effectDir, join(dir, "node_modules", "effect"), "dir")
    await mkdir(join(dir, "node_modules", "@switchyard"))
    await symlink(sdkDir, join(dir, "node_modules", "@switchyard", "sdk"), "dir")
    await writeFile(join(dir, "pipeline.yaml"), pipeline)
    return dir
  }),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

const PluginList = Schema.fromJsonString(
  Schema.Struct({
    plugins: Schema.Array(Schema.Struct({ id: Schema.String, source: Schema.String, stages: Schema.Array(Schema.String) }))
  })
)

describe("discovered plugins over NATS", () => {
  it.live(
    "lists, registers and runs a plugin folder and an npm plugin, and deregisters them when removed or stopped",
    () =>
      Effect.gen(function* () {
        const dir = yield* project
        // The user-global plugin folder of the test runner stays out of the project.
        const env = { XDG_DATA_HOME: join(dir, "xdg") }
        const nats = ["--nats", natsUrl()]

        const listed = yield* runCli({ label: "plugin list", args: ["plugin", "list", "--json"], cwd: dir, env })
        assert.strictEqual(listed.code, 0, listed.stderr)
        const plugins = Schema.decodeUnknownSync(PluginList)(listed.stdout).plugins
        assert.deepStrictEqual(plugins.map((plugin) => [plugin.id, plugin.source, plugin.stages]).sort(), [
          ["e2e/wave", "npm", [waveType]],
          ["examples/hello-process", "path", [greetType]]
        ])

        const bus = yield* Layer.build(NatsBus.layer({ url: natsUrl(), name: "e2e-plugins-probe" })).pipe(
          Effect.map((context) => Context.get(context, Bus))
        )
        const registry = yield* Layer.build(RegistryClient.layer.pipe(Layer.provide(Layer.succeed(Bus, bus)))).pipe(
          Effect.map((context) => Context.get(context, RegistryClient))
        )
        const registered = registry.list().pipe(Effect.map((reply) => reply.stages.map((stage) => stage.metadata.type).sort()))

        const registryProcess = yield* spawnCli({ label: "registry", args: ["registry", ...nats] })
        yield* spawnCli({ label: "scheduler", args: ["scheduler", ...nats] })
        yield* registryProcess.logged("registry ready", readyTimeout)
        const executor = yield* spawnCli({
          label: "executor",
          args: ["executor", ...nats, "--runtime", "process", "--pool", "plugins"],
          cwd: dir,
          env: { ...env, SWITCHYARD_PLUGIN_SCAN_INTERVAL: "200 millis", SWITCHYARD_EXECUTOR_ID: "plugins-executor" }
        })
        yield* eventually(
          "both plugins' stage types registered",
          registered.pipe(
            Effect.filterOrFail(
              (types) => types.includes(greetType) && types.includes(waveType),
              (types) => `registered so far: ${types.join(", ") || "none"}`
            )
          ),
          readyTimeout
        )

        const run = yield* runPipeline(join(dir, "pipeline.yaml"), nats, { label: "run plugins", timeout: "30 seconds" })
        assert.strictEqual(run.code, 0, run.stderr)
        assert.deepStrictEqual(run.finished?.state, { greeting: "Hello from a child process, Ada!", waved: "waves at Grace" })

        yield* Effect.promise(() => rm(join(dir, "plugins", "hello-process"), { recursive: true, force: true }))
        yield* eventually(
          `${greetType} deregistered once its folder is gone`,
          registered.pipe(Effect.map((types) => !types.includes(greetType) && types.includes(waveType))),
          { timeout: "15 seconds", interval: "100 millis" }
        )

        // A valid plugin folder that appears is loaded and registered without a restart.
        yield* Effect.promise(() => dropExamplePlugin(dir, "again"))
        yield* eventually(
          `${greetType} registered again once its folder is back`,
          registered.pipe(Effect.map((types) => types.includes(greetType))),
          { timeout: "15 seconds", interval: "100 millis" }
        )

        // SIGTERM interrupts the executor, which shuts down by itself (no signal kills it).
        const stopped = yield* executor.kill("SIGTERM")
        assert.isNull(stopped.signal, executor.stderr())
        assert.deepStrictEqual(yield* registered, [])

        // Every load, registration and deregistration is in the audit stream.
        const names = makeNames("")
        yield* bus.ensureConsumer({
          stream: names.streams.audit,
          durable: "e2e-audit",
          filterSubject: names.auditAll,
          ackWait: "30 seconds",
          maxDeliver: 1,
          maxAckPending: 1000
        })
        const jobs = yield* bus.consume({ stream: names.streams.audit, durable: "e2e-audit", slots: 1000 })
        const audit = yield* collect(
          "audit entries",
          jobs.pipe(Stream.mapEffect((job) => job.ack.pipe(Effect.andThen(decode(AuditEntry, AuditEntryType)(job)))))
        )
        const expected = [
          `executor plugin-loaded examples/hello-process`,
          `executor plugin-loaded e2e/wave`,
          `registry accepted ${greetType}`,
          `registry accepted ${waveType}`,
          `executor plugin-unloaded examples/hello-process`,
          `registry deregistered ${greetType}`,
          `registry deregistered ${waveType}`
        ]
        const seen = yield* eventually(
          "audit entries of every load, registration and deregistration",
          audit.items.pipe(
            Effect.map((entries) => {
              const lines = entries.map((entry) => `${entry.service} ${entry.event} ${entry.stage ?? entry.plugin ?? ""}`)
              return expected.every((line) => lines.includes(line)) ? entries : false
            })
          ),
          { timeout: "10 seconds" }
        )
        const loaded = seen.find((entry) => entry.event === "plugin-loaded" && entry.plugin === "e2e/wave")!
        assert.deepStrictEqual(
          [loaded.source, loaded.location, loaded.pool, loaded.executorId],
          ["npm", join(dir, "node_modules", "@e2e", "wave"), "plugins", "plugins-executor"]
        )
      }).pipe(Effect.scoped),
    60_000
  )
})
