/**
 * What the `switchyard` command line prints when it cannot do its work,
 * through the real CLI process: one line naming what failed and what to do,
 * the stack only at `--log-level debug`, and the global `--log-level` flag
 * deciding what a command logs.
 */
import { createServer } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { inject } from "vitest"
import { repoRoot, runCli, spawnCli } from "../../e2e/support/CliProcess.ts"
import { uniquePrefix } from "../../support/unique.ts"

/** A local port nothing listens on: the OS hands it out, and it is closed again at once. */
const closedPort = Effect.promise(
  () =>
    new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))))
      })
    })
)

const lines = (text: string) => text.trimEnd().split("\n")

describe("switchyard failures on the command line", () => {
  it.live("names the NATS URL it cannot reach and how to start a server, in one line", () =>
    Effect.gen(function* () {
      const url = `nats://127.0.0.1:${yield* closedPort}`
      const result = yield* runCli({ label: "stages without NATS", args: ["stages", "--nats", url] })
      assert.strictEqual(result.code, 1, result.stderr)
      assert.strictEqual(
        result.stderr,
        `cannot reach NATS at ${url}: connection refused; start nats-server (with -js) or pass --nats URL\n`
      )
      assert.strictEqual(result.stdout, "")
    })
  )

  it.live("names the HTTP port a service cannot listen on, and the flag and variable that set it, in one line", () =>
    Effect.gen(function* () {
      // Taken for the test's length: the service finds it in use.
      const taken = createServer()
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => void taken.listen(0, () => resume(Effect.void))),
        () => Effect.callback<void>((resume) => void taken.close(() => resume(Effect.void)))
      )
      const port = (taken.address() as { port: number }).port
      const url = `nats://127.0.0.1:${yield* closedPort}`
      const result = yield* runCli({ label: "registry on a taken port", args: ["registry", "--nats", url, "--http-port", String(port)] })
      assert.strictEqual(result.code, 1, result.stderr)
      assert.strictEqual(lines(result.stderr).length, 1, result.stderr)
      assert.match(
        result.stderr,
        new RegExp(
          `^HealthServerError: cannot serve /healthz, /readyz and /metrics on port ${port} \\(--http-port, SWITCHYARD_HTTP_PORT\\): listen EADDRINUSE`
        )
      )
    }).pipe(Effect.scoped)
  )

  it.live("adds the stack of the failure at --log-level debug", () =>
    Effect.gen(function* () {
      const url = `nats://127.0.0.1:${yield* closedPort}`
      const result = yield* runCli({ label: "stages without NATS, debug", args: ["--log-level", "debug", "stages", "--nats", url] })
      assert.strictEqual(result.code, 1, result.stderr)
      const [first, ...rest] = lines(result.stderr)
      assert.strictEqual(first, `cannot reach NATS at ${url}: connection refused; start nats-server (with -js) or pass --nats URL`)
      assert.isTrue(
        rest.some((line) => /^\s+at /.test(line)),
        result.stderr
      )
    })
  )

  it.live("says to start the scheduler when the registry and an executor answer but nothing answers run.submit", () =>
    Effect.gen(function* () {
      const prefix = uniquePrefix("cli")
      const nats = ["--nats", inject("natsUrl")]
      const env = { SWITCHYARD_PREFIX: prefix }
      const registry = yield* spawnCli({ label: "registry", args: ["registry", ...nats], env })
      yield* registry.logged("registry ready", { timeout: "90 seconds" })
      const executor = yield* spawnCli({ label: "executor", args: ["executor", ...nats, "--pool", "hello"], env })
      yield* executor.logged("serving pool hello", { timeout: "90 seconds" })
      const result = yield* runCli({ label: "run without a scheduler", args: ["run", "examples/pipelines/hello.yaml", ...nats], env })
      assert.strictEqual(result.code, 2, result.stderr)
      assert.strictEqual(
        result.stderr,
        `no scheduler answers on ${prefix}.run.submit: start one with \`switchyard scheduler --nats ${inject("natsUrl")}\`\n`
      )
    })
  )

  it.live("says to start the registry when nothing answers stage.list", () =>
    Effect.gen(function* () {
      const prefix = uniquePrefix("cli")
      const result = yield* runCli({
        label: "stages without a registry",
        args: ["stages", "--nats", inject("natsUrl")],
        env: { SWITCHYARD_PREFIX: prefix }
      })
      assert.strictEqual(result.code, 1, result.stderr)
      assert.strictEqual(result.stderr, `no registry answers on ${prefix}.stage.list: start \`switchyard registry --nats URL\`\n`)
    })
  )

  it.live("names the module and the fix when an ES module sits in a CommonJS folder", () =>
    Effect.gen(function* () {
      const module = "test/services/cli/fixtures/commonjs/stages.js"
      const result = yield* runCli({ label: "stages --module in a CommonJS folder", args: ["stages", "--module", module] })
      assert.strictEqual(result.code, 1, result.stderr)
      assert.strictEqual(
        result.stderr,
        `${module}: an ES module (import/export) that Node loads as CommonJS; add "type": "module" to ${repoRoot}test/services/cli/fixtures/commonjs/package.json or rename it to .mjs\n`
      )
    })
  )

  it.live("logs from the level the global --log-level flag names, over SWITCHYARD_LOG_LEVEL and the command's default", () =>
    Effect.gen(function* () {
      const quiet = yield* runCli({ label: "stages", args: ["stages"] })
      assert.strictEqual(quiet.code, 0, quiet.stderr)
      assert.notInclude(quiet.stderr, "registry ready")

      const info = yield* runCli({ label: "stages --log-level info", args: ["--log-level", "info", "stages"] })
      assert.strictEqual(info.code, 0, info.stderr)
      assert.include(info.stderr, "registry ready")

      const overEnv = yield* runCli({
        label: "stages --log-level error with SWITCHYARD_LOG_LEVEL=Info",
        args: ["stages", "--log-level", "error"],
        env: { SWITCHYARD_LOG_LEVEL: "Info" }
      })
      assert.strictEqual(overEnv.code, 0, overEnv.stderr)
      assert.notInclude(overEnv.stderr, "registry ready")

      const fromEnv = yield* runCli({
        label: "stages with SWITCHYARD_LOG_LEVEL=Info",
        args: ["stages"],
        env: { SWITCHYARD_LOG_LEVEL: "Info" }
      })
      assert.include(fromEnv.stderr, "registry ready")
    })
  )

  it.live("takes SWITCHYARD_LOG_LEVEL in any case, as the flag does", () =>
    Effect.gen(function* () {
      const result = yield* runCli({
        label: "run with a lower-case level",
        args: ["run", "examples/pipelines/hello.yaml", "--input", "name=Ada"],
        env: { SWITCHYARD_LOG_LEVEL: "info" }
      })
      assert.strictEqual(result.code, 0, result.stderr)
      // `run` logs from Warn by default: info lines show the setting was taken.
      assert.include(result.stderr, "level=INFO")
    })
  )

  it.live("names a setting from the environment that does not parse, in one line", () =>
    Effect.gen(function* () {
      const result = yield* runCli({
        label: "run with a duration without a unit",
        args: ["run", "examples/pipelines/hello.yaml", "--input", "name=Ada"],
        env: { SWITCHYARD_ACK_WAIT: "30" }
      })
      assert.strictEqual(result.code, 1, result.stderr)
      assert.lengthOf(lines(result.stderr), 1, result.stderr)
      assert.match(result.stderr, /^invalid setting: .*SWITCHYARD_ACK_WAIT/)
    })
  )
})
