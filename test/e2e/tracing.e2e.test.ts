/**
 * One trace per run across every process: the registry, the scheduler, an
 * inline executor and a process executor (whose plugin processes export
 * spans of their own) as separate processes on a real nats-server, and
 * `switchyard run --nats` as the client, all exporting OTLP/HTTP to a
 * receiver of the test's own. For one run, the spans of every process share
 * the trace id its events print, every parent is a span of the same trace,
 * and the hops carry OpenTelemetry's messaging attributes.
 */
import { writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually } from "../support/eventually.ts"
import { otlpReceiver, type ReceivedSpan } from "../support/otlpReceiver.ts"
import { scratchDir } from "../support/processes.ts"
import { spawnCli } from "./support/CliProcess.ts"
import { runPipeline, serviceReady, startStack } from "./support/Stack.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"

const natsUrl = ownNatsServer()

const pipeline = `name: traced
stages:
  - name: greet
    type: hello.greet
    inputs: { name: Ada }
  - name: child
    type: examples/hello-process.greet
    depends_on: [greet]
    inputs: { name: "{{ state.greeting.greeting }}" }
`

const producer = 4
const consumer = 5

const services = [
  "switchyard-cli",
  "switchyard-scheduler",
  "switchyard-executor-inline",
  "switchyard-executor-process",
  "switchyard-plugin"
]

describe("tracing a run across processes", () => {
  it.live(
    "exports one trace per run with spans from the client, the scheduler, both executors and the plugin process, parents intact",
    () =>
      Effect.gen(function* () {
        const receiver = yield* otlpReceiver
        const env = {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          // Spans leave within a fifth of a second instead of five.
          OTEL_BSP_SCHEDULE_DELAY: "200"
        }
        yield* startStack({ natsUrl: natsUrl(), pool: "hello", replicas: ["inline"], env })
        const plugins = yield* spawnCli({
          label: "executor process",
          args: ["executor", "--nats", natsUrl(), "--pool", "process", "--runtime", "process", "--http-port", "0"],
          env: { ...env, SWITCHYARD_PLUGINS_PATH: resolve("examples/plugins") }
        })
        yield* serviceReady(plugins)

        const dir = yield* scratchDir("switchyard-tracing-")
        const file = join(dir, "traced.yaml")
        writeFileSync(file, pipeline)
        const run = yield* runPipeline(file, ["--nats", natsUrl()], { label: "run traced", env, timeout: "60 seconds" })
        assert.strictEqual(run.code, 0, run.stderr)
        const traceId = run.events.find((event) => event.kind === "run.started")?.traceId
        assert.match(traceId ?? "", /^[0-9a-f]{32}$/)
        assert.strictEqual(run.finished?.traceId, traceId)

        // Exported in batches: wait until every process's spans of the run arrived.
        const ofRun = () => receiver.spans().filter((span) => span.traceId === traceId)
        const spans = yield* eventually(
          "spans of the run from every process",
          Effect.suspend(() => {
            const seen = new Set(ofRun().map((span) => span.service))
            const missing = services.filter((service) => !seen.has(service))
            // The scheduler exports in batches too: its apply of the last stage may come a batch later.
            const applied = ofRun().filter((span) => span.name === "Scheduler.applyResult").length
            if (applied < 2) missing.push(`the scheduler's second apply (${applied} so far)`)
            return missing.length === 0 ? Effect.succeed(ofRun()) : Effect.fail(`no spans yet from ${missing.join(", ")}`)
          }),
          { timeout: "30 seconds", interval: "200 millis" }
        )

        // One root, the client's submit; every other span's parent is a span of this trace.
        const ids = new Set(spans.map((span) => span.spanId))
        const roots = spans.filter((span) => span.parentSpanId === "")
        assert.deepStrictEqual(
          roots.map((span) => [span.service, span.name]),
          [["switchyard-cli", "SwitchyardClient.submitRun"]]
        )
        const orphans = spans.filter((span) => span.parentSpanId !== "" && !ids.has(span.parentSpanId))
        assert.deepStrictEqual(
          orphans.map((span) => `${span.service} ${span.name}`),
          []
        )

        const byId = new Map(spans.map((span) => [span.spanId, span]))
        const parentOf = (span: ReceivedSpan) => byId.get(span.parentSpanId)
        const only = (predicate: (span: ReceivedSpan) => boolean, what: string) => {
          const found = spans.filter(predicate)
          assert.strictEqual(found.length, 1, `${what}: ${found.map((span) => `${span.service} ${span.name}`).join(", ")}`)
          return found[0]!
        }

        for (const [pool, service, stageType] of [
          ["hello", "switchyard-executor-inline", "hello.greet"],
          ["process", "switchyard-executor-process", "examples/hello-process.greet"]
        ] as const) {
          // The scheduler's PRODUCER span of the stage's one attempt ...
          const sent = only(
            (span) => span.kind === producer && span.name === `send task.run.${pool}`,
            `the scheduler's send on task.run.${pool}`
          )
          assert.strictEqual(sent.service, "switchyard-scheduler")
          assert.include(sent.attributes, {
            "messaging.system": "nats",
            "messaging.operation.type": "send",
            "messaging.destination.name": `task.run.${pool}`,
            "switchyard.stage.type": stageType,
            "switchyard.attempt": 1
          })
          assert.match(String(sent.attributes["messaging.message.id"]), /:1$/)
          // ... is the parent of the executor's CONSUMER span, which names the same message ...
          const taken = only((span) => span.kind === consumer && span.name === `process task.run.${pool}`, `the take on ${pool}`)
          assert.strictEqual(taken.service, service)
          assert.strictEqual(parentOf(taken)?.spanId, sent.spanId)
          assert.include(taken.attributes, {
            "messaging.system": "nats",
            "messaging.destination.name": `task.run.${pool}`,
            "messaging.message.id": sent.attributes["messaging.message.id"],
            "messaging.nats.message.delivery_count": 1
          })
          // ... whose children are the stage's span and the result's PRODUCER span ...
          const stage = only((span) => span.name === `stage ${stageType}`, `the stage span of ${stageType}`)
          assert.strictEqual(parentOf(stage)?.spanId, taken.spanId)
          const answered = only(
            (span) => span.kind === producer && span.name === "send task.result" && parentOf(span)?.spanId === taken.spanId,
            `the result of ${stageType}`
          )
          // ... which the scheduler's apply continues.
          const applied = only(
            (span) => span.name === "Scheduler.applyResult" && span.parentSpanId === answered.spanId,
            `the apply of ${stageType}`
          )
          assert.strictEqual(applied.service, "switchyard-scheduler")
          assert.strictEqual(applied.kind, consumer)
        }

        // The plugin process's own span sits under the process executor's stage span.
        const action = only((span) => span.service === "switchyard-plugin", "the plugin's span")
        assert.strictEqual(action.name, "action greet")
        let ancestor = parentOf(action)
        while (ancestor !== undefined && !ancestor.name.startsWith("stage ")) ancestor = parentOf(ancestor)
        assert.strictEqual(ancestor?.name, "stage examples/hello-process.greet")
      }).pipe(Effect.scoped),
    180_000
  )
})
