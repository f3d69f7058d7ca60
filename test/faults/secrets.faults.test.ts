import { randomUUID } from "node:crypto"
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { leakingLines } from "../support/secretLeaks.ts"
import { scratchDir } from "../support/processes.ts"
import { runCli, spawnCli } from "../e2e/support/CliProcess.ts"
import { httpPortOf, serviceReady, startStack } from "../e2e/support/Stack.ts"
import { eventually } from "../support/eventually.ts"
import { otlpReceiver } from "../support/otlpReceiver.ts"
import * as NatsServer from "../support/NatsServer.ts"

/** Every file under a folder, recursively. */
const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : entry.isFile() ? [join(dir, entry.name)] : []
  )

/** The final state of a `--json` run: its run.finished event's. */
const finalState = (stdout: string): Record<string, unknown> =>
  stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { kind: string; state?: Record<string, unknown> })
    .find((event) => event.kind === "run.finished")?.state ?? {}

const pipeline = "test/faults/fixtures/secrets/secrets.yaml"
const module = "test/faults/fixtures/secrets/stages.ts"

describe("switchyard run with secrets", () => {
  it.live(
    "reads secrets from SWITCHYARD_SECRETS_DIR only, hands them to the stages that declare them, and masks every encoding an inline or process stage prints or returns",
    () =>
      Effect.gen(function* () {
        const dir = yield* scratchDir("switchyard-secrets-e2e-")
        const canary = `c4n4ry/${randomUUID()}+?&= "q"`
        writeFileSync(join(dir, "CANARY"), `${canary}\n`)
        const run = yield* spawnCli({
          label: "run secrets",
          args: ["run", pipeline, "--module", module, "--json"],
          env: { SWITCHYARD_SECRETS_DIR: dir, SWITCHYARD_LOG_LEVEL: "debug" }
        })
        // The executor's environment, as any process of its user (a plugin, through /proc/$PPID/environ) reads it.
        const environ = readFileSync(`/proc/${run.pid}/environ`, "latin1")
        const exited = yield* run.exited
        assert.strictEqual(exited.code, 0, run.stderr())
        assert.deepStrictEqual(leakingLines(environ.replaceAll("\0", "\n"), canary), [])

        const state = finalState(run.stdout()) as {
          inlineLeak: { encodings: Record<string, string>; fromContext: string; environment: boolean }
          processLeak: { encodings: Record<string, string>; fromContext: string; ownEnvironment: boolean; parentEnvironment: boolean }
        }
        // The stages had the secret (their outputs are masked, so each form reads [redacted]) ...
        assert.strictEqual(state.inlineLeak.fromContext, "[redacted]")
        assert.strictEqual(state.processLeak.fromContext, "[redacted]")
        assert.isAbove(Object.keys(state.inlineLeak.encodings).length, 8)
        for (const stage of [state.inlineLeak, state.processLeak]) {
          for (const [name, form] of Object.entries(stage.encodings)) assert.include(form, "[redacted]", name)
        }
        // ... but found it in no environment: neither the executor's nor the plugin process's.
        assert.isFalse(state.inlineLeak.environment)
        assert.isFalse(state.processLeak.ownEnvironment)
        assert.isFalse(state.processLeak.parentEnvironment)

        // Every event (results, the final state) and everything the executor wrote: no encoding of the secret.
        assert.deepStrictEqual(leakingLines(run.stdout(), canary), [])
        assert.deepStrictEqual(leakingLines(run.stderr(), canary), [])
        // The stages did print: their lines are there, masked.
        for (const prefix of ["inline stdout base64+1", "inline stderr hex", "inline log url", "process HEX"]) {
          assert.include(`${run.stdout()}\n${run.stderr()}`, prefix)
        }
      }).pipe(Effect.scoped)
  )

  it.live(
    "over NATS, leaves no encoding of the secret in any stream, bucket or store file of the server, any service's log, or any exported span, span event or metric",
    () =>
      Effect.gen(function* () {
        const dir = yield* scratchDir("switchyard-secrets-nats-")
        const canary = `c4n4ry/${randomUUID()}+?&= "q"`
        writeFileSync(join(dir, "CANARY"), `${canary}\n`)
        const server = yield* NatsServer.scoped()
        const secrets = { SWITCHYARD_SECRETS_DIR: dir, SWITCHYARD_LOG_LEVEL: "debug" }
        // Every process exports its spans and metrics (and the plugin process its own spans) to the receiver.
        const receiver = yield* otlpReceiver
        const telemetry = {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_BSP_SCHEDULE_DELAY: "200",
          OTEL_METRIC_EXPORT_INTERVAL: "500"
        }
        // An inline replica for the module's stage, and a process replica for the plugin's.
        const stack = yield* startStack({
          natsUrl: server.url,
          pool: "inline",
          replicas: ["inline"],
          modules: [module],
          env: telemetry,
          executorEnv: secrets
        })
        const plugins = yield* spawnCli({
          label: "executor process",
          args: ["executor", "--nats", server.url, "--pool", "process", "--runtime", "process", "--http-port", "0"],
          env: { ...secrets, ...telemetry, SWITCHYARD_PLUGINS_PATH: resolve("test/faults/fixtures/secrets") }
        })
        yield* serviceReady(plugins)
        const run = yield* runCli({
          label: "run secrets --nats",
          args: ["run", pipeline, "--nats", server.url, "--json"],
          env: telemetry,
          timeout: "90 seconds"
        })
        assert.strictEqual(run.code, 0, run.stderr)
        const state = finalState(run.stdout) as { inlineLeak?: { fromContext: string }; processLeak?: { fromContext: string } }
        // The stages had the secret ...
        assert.strictEqual(state.inlineLeak?.fromContext, "[redacted]")
        assert.strictEqual(state.processLeak?.fromContext, "[redacted]")
        // ... and none of its encodings is in the events, any service's log, or any file the server stored:
        // the tasks, results, events, dead letters and audit streams, the runs, items and registry buckets.
        assert.deepStrictEqual(leakingLines(run.stdout, canary), [])
        for (const service of [...stack.processes(), plugins])
          assert.deepStrictEqual(leakingLines(service.stderr(), canary), [], service.label)
        // Nor in any span, span event or metric exported, the plugin process's own spans included, nor on /metrics.
        yield* eventually(
          "the stages' spans exported, the plugin process's too",
          Effect.sync(() => {
            const names = receiver.spans().map((span) => `${span.service} ${span.name}`)
            return (
              names.some((name) => name.startsWith("switchyard-executor-inline inline span [redacted]")) &&
              names.some((name) => name.startsWith("switchyard-plugin process span [redacted]"))
            )
          }),
          { timeout: "30 seconds", interval: "200 millis" }
        )
        assert.isTrue(receiver.bodies().some((body) => body.path === "/v1/metrics"))
        for (const body of receiver.bodies()) assert.deepStrictEqual(leakingLines(body.text, canary), [], body.path)
        for (const service of [...stack.processes(), plugins]) {
          const port = yield* httpPortOf(service)
          const metrics = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/metrics`).then((reply) => reply.text()))
          assert.include(metrics, "switchyard_", service.label)
          assert.deepStrictEqual(leakingLines(metrics, canary), [], service.label)
        }
        const files = filesUnder(server.jetStreamDir)
        assert.isAbove(files.length, 10, "the server stored the run's streams and buckets")
        for (const file of files) assert.deepStrictEqual(leakingLines(readFileSync(file, "latin1"), canary), [], file)
      }).pipe(Effect.scoped),
    180_000
  )

  it.live("refuses to start an executor whose environment holds a SWITCHYARD_SECRET_<KEY>, naming it", () =>
    Effect.gen(function* () {
      const run = yield* runCli({
        label: "run with an env secret",
        args: ["run", pipeline, "--module", module, "--json"],
        env: { SWITCHYARD_SECRET_CANARY: "from-the-environment" },
        timeout: "60 seconds"
      })
      assert.notStrictEqual(run.code, 0)
      assert.include(run.stderr + run.stdout, "SWITCHYARD_SECRET_CANARY")
      assert.include(run.stderr + run.stdout, "SWITCHYARD_SECRETS_DIR")
      assert.notInclude(run.stderr + run.stdout, "from-the-environment")
    }).pipe(Effect.scoped)
  )

  it.live("plugin validate refuses a wildcard secret, naming the file, line, column and field", () =>
    Effect.gen(function* () {
      const dir = yield* scratchDir("switchyard-wildcard-")
      cpSync("test/faults/fixtures/secrets/leaky", join(dir, "leaky"), { recursive: true })
      const manifest = join(dir, "leaky", "plugin.yaml")
      writeFileSync(manifest, readFileSync(manifest, "utf8").replace("secrets: [CANARY]", 'secrets: ["*"]'))
      const run = yield* runCli({ label: "plugin validate", args: ["plugin", "validate", join(dir, "leaky")], timeout: "60 seconds" })
      assert.notStrictEqual(run.code, 0)
      assert.include(run.stderr + run.stdout, `${manifest}:9:13: capabilities.secrets[0]: expected a secret key named in full`)
    }).pipe(Effect.scoped)
  )
})
