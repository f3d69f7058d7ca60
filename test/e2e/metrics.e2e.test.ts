/**
 * Metrics as an operator scrapes them: the services as separate processes,
 * each serving `/metrics` on its HTTP port, scraped by a real Prometheus
 * (Debian's `prometheus`) started by the test with a config naming those
 * ports. After a run, Prometheus's query API has the task duration
 * histogram per stage type, and the scheduler's runs by status.
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { eventually } from "../support/eventually.ts"
import { scratchDir } from "../support/processes.ts"
import { httpPortOf, runPipeline, startStack } from "./support/Stack.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"

const natsUrl = ownNatsServer()

/** A port free right now (Prometheus takes no port 0). */
const freePort = Effect.callback<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

const QueryReply = Schema.fromJsonString(
  Schema.Struct({
    status: Schema.String,
    data: Schema.Struct({
      result: Schema.Array(
        Schema.Struct({ metric: Schema.Record(Schema.String, Schema.String), value: Schema.Tuple([Schema.Number, Schema.String]) })
      )
    })
  })
)

/** Prometheus on `port`, scraping `targets` every second, for as long as the scope lives. */
const prometheus = (targets: ReadonlyArray<string>, port: number) =>
  Effect.gen(function* () {
    const dir = yield* scratchDir("switchyard-prometheus-")
    const config = join(dir, "prometheus.yml")
    writeFileSync(
      config,
      [
        "global:",
        "  scrape_interval: 1s",
        "scrape_configs:",
        "  - job_name: switchyard",
        "    static_configs:",
        `      - targets: [${targets.map((target) => `"${target}"`).join(", ")}]`,
        ""
      ].join("\n")
    )
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const started = spawn(
          "prometheus",
          [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
          { stdio: ["ignore", "pipe", "pipe"] }
        )
        started.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
        started.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
        return started
      }),
      (started) =>
        Effect.callback<void>((resume) => {
          if (started.exitCode !== null || started.signalCode !== null) return resume(Effect.void)
          started.once("exit", () => resume(Effect.void))
          started.kill("SIGTERM")
        })
    )
    const query = (promql: string) =>
      Effect.tryPromise(() =>
        fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`).then((reply) => reply.text())
      ).pipe(
        Effect.flatMap(Schema.decodeUnknownEffect(QueryReply)),
        Effect.map((reply) => reply.data.result)
      )
    return { query, output: () => output, running: () => child.exitCode === null }
  })

describe("metrics scraped by Prometheus", () => {
  it.live(
    "finds the task duration histogram per stage type and the runs by status through Prometheus's query API",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack({ natsUrl: natsUrl(), replicas: ["a"] })
        const ports = yield* Effect.forEach([stack.registry, stack.scheduler(), ...stack.replicas], httpPortOf)
        const run = yield* runPipeline("examples/pipelines/hello.yaml", ["--nats", natsUrl()], { label: "run hello" })
        assert.strictEqual(run.code, 0, run.stderr)

        // The executor's own text first: the histogram is there in Prometheus's format.
        const text = yield* Effect.tryPromise(() => fetch(`http://127.0.0.1:${ports[2]}/metrics`).then((reply) => reply.text()))
        assert.match(text, /switchyard_task_duration_bucket\{[^}]*switchyard_stage_type="hello\.greet"[^}]*le="[^"]+"\} \d+/)

        const server = yield* prometheus(
          ports.map((port) => `127.0.0.1:${port}`),
          yield* freePort
        )
        const perType = yield* eventually(
          "Prometheus has the task duration histogram of every stage type of the run",
          server.query("sum by (switchyard_stage_type) (switchyard_task_duration_count)").pipe(
            Effect.map((result) => new Map(result.map((sample) => [sample.metric.switchyard_stage_type, Number(sample.value[1])]))),
            Effect.filterOrFail(
              (counts) =>
                ["hello.greet", "hello.shout", "hello.reverse", "hello.letters", "hello.words", "hello.summary"].every((type) =>
                  counts.has(type)
                ),
              (counts) => `so far: ${JSON.stringify([...counts])}; prometheus running: ${server.running()}; ${server.output().slice(-400)}`
            )
          ),
          { timeout: "60 seconds", interval: "500 millis" }
        )
        for (const count of perType.values()) assert.strictEqual(count, 1)
        const buckets = yield* server.query('switchyard_task_duration_bucket{switchyard_stage_type="hello.greet", le="+Inf"}')
        assert.strictEqual(Number(buckets[0]?.value[1]), 1)
        // Each target is scraped on its own schedule: the scheduler's figures may come a scrape later.
        const finished = yield* eventually(
          "Prometheus has the scheduler's runs finished",
          server.query("switchyard_runs_finished_total").pipe(
            Effect.filterOrFail(
              (result) => result.length > 0,
              () => "no series yet"
            )
          ),
          { timeout: "60 seconds", interval: "500 millis" }
        )
        assert.deepStrictEqual(
          finished.map((sample) => [sample.metric.switchyard_run_status, Number(sample.value[1])]),
          [["succeeded", 1]]
        )
      }).pipe(Effect.scoped),
    180_000
  )
})
