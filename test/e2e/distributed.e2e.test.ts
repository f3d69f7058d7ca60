/**
 * Switchyard end to end, as an operator runs it: `switchyard registry`,
 * `switchyard scheduler` and executor replicas as separate processes on a
 * nats-server of this file's own, and `switchyard run` as another process
 * whose exit code and `--json` events the tests read. Crashes are real
 * (SIGKILL), malformed messages are real bytes on the real subjects.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect as natsConnect } from "@nats-io/transport-node"
import { Effect, Schema } from "effect"
import { eventually } from "../support/eventually.ts"
import { uniquePrefix } from "../support/unique.ts"
import { type CliProcess, runCli, spawnCli } from "./support/CliProcess.ts"
import { runEvents, runPipeline, startStack } from "./support/Stack.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"
import { isKind } from "../support/events.ts"

const hello = "examples/pipelines/hello.yaml"
const napPipeline = "test/e2e/fixtures/nap.yaml"
const napModule = "test/e2e/fixtures/napStages.ts"

const natsUrl = ownNatsServer()

const StageList = Schema.fromJsonString(
  Schema.Array(
    Schema.Struct({
      pool: Schema.String,
      online: Schema.Boolean,
      metadata: Schema.Struct({ type: Schema.String })
    })
  )
)

/** The replica whose log shows it started the stage with `label`. */
const replicaRunning = <A extends CliProcess>(replicas: ReadonlyArray<A>, label: string) =>
  eventually(
    `a replica starts e2e.nap ${label}`,
    () => replicas.find((replica) => replica.stderr().includes(`e2e.nap ${label} started`)) ?? false,
    { timeout: "15 seconds" }
  )

describe("switchyard as separate processes over NATS", () => {
  it.live(
    "runs the hello pipeline across two replicas to the same state as the embedded run",
    () =>
      Effect.gen(function* () {
        // One slot per replica: the four fan-out stages cannot all go to one of them.
        const stack = yield* startStack({ natsUrl: natsUrl(), slots: 1 })

        const listed = yield* runCli({ label: "stages", args: ["stages", "--nats", natsUrl(), "--json"] })
        assert.strictEqual(listed.code, 0, listed.stderr)
        const stages = Schema.decodeUnknownSync(StageList)(listed.stdout)
        const greet = stages.find((stage) => stage.metadata.type === "hello.greet")
        assert.deepStrictEqual(greet && { pool: greet.pool, online: greet.online }, { pool: "hello", online: true })

        const [distributed, embedded] = yield* Effect.all(
          [runPipeline(hello, ["--nats", natsUrl()], { label: "run distributed" }), runPipeline(hello, [], { label: "run embedded" })],
          { concurrency: 2 }
        )

        assert.strictEqual(distributed.code, 0, distributed.stderr)
        assert.strictEqual(embedded.code, 0, embedded.stderr)
        assert.strictEqual(distributed.finished?.status, "succeeded")
        assert.deepStrictEqual(distributed.finished?.state, embedded.finished?.state)
        assert.deepStrictEqual(Object.keys(distributed.finished?.state ?? {}).sort(), [
          "greeting",
          "letters",
          "reversed",
          "shouted",
          "summary",
          "wordCount",
          "words"
        ])
        const takers = new Set(distributed.events.filter((event) => event.kind === "stage.finished").map((event) => event.executorId))
        assert.deepStrictEqual([...takers].sort(), stack.replicas.map((replica) => replica.executorId).sort())
      }),
    30_000
  )

  it.live(
    "redelivers a task whose replica was killed to the other replica and applies its result once",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack({
          natsUrl: natsUrl(),
          modules: [napModule],
          executorEnv: { SWITCHYARD_ACK_WAIT: "1 second" }
        })
        const run = yield* spawnCli({ label: "run nap", args: ["run", napPipeline, "--nats", natsUrl(), "--json"] })

        const napper = yield* replicaRunning(stack.replicas, "nap")
        yield* napper.kill("SIGKILL")
        const survivor = stack.replicas.find((replica) => replica !== napper)!

        // The killed scheduler may have started the run without answering its submit: the client sends
        // the submit again (5 s per attempt) and the replacement answers it. A run that never ends still fails.
        const exited = yield* run.exited.pipe(Effect.timeout("45 seconds"))
        assert.strictEqual(exited.code, 0, `${run.stderr()}\n${run.stdout()}`)
        const events = runEvents(run.stdout())
        const napFinished = events.filter(isKind("stage.finished")).filter((event) => event.stage === "nap")
        assert.strictEqual(napFinished.length, 1, JSON.stringify(events))
        assert.strictEqual(napFinished[0]!.executorId, survivor.executorId)
        // `naps` is appended to: a result applied twice would list "nap" twice.
        const finished = events.find((event) => event.kind === "run.finished")
        assert.strictEqual(finished?.status, "succeeded")
        assert.deepStrictEqual(finished?.state, { naps: ["nap", "after"] })
        yield* survivor.logged("e2e.nap nap started")
      }),
    60_000
  )

  it.live(
    "resumes a run when its scheduler is killed mid-stage and a new one starts",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack({ natsUrl: natsUrl(), modules: [napModule] })
        const run = yield* spawnCli({ label: "run nap", args: ["run", napPipeline, "--nats", natsUrl(), "--json"] })

        yield* replicaRunning(stack.replicas, "nap")
        yield* stack.scheduler().kill("SIGKILL")
        const replacement = yield* stack.replaceScheduler

        // The killed scheduler may have started the run without answering its submit: the client sends
        // the submit again (5 s per attempt) and the replacement answers it. A run that never ends still fails.
        const exited = yield* run.exited.pipe(Effect.timeout("45 seconds"))
        assert.strictEqual(exited.code, 0, `${run.stderr()}\n${run.stdout()}`)
        const events = runEvents(run.stdout())
        const runId = events[0]?.runId
        assert.strictEqual(events.filter((event) => event.kind === "stage.finished" && event.stage === "nap").length, 1)
        const finished = events.find((event) => event.kind === "run.finished")
        assert.strictEqual(finished?.status, "succeeded")
        assert.deepStrictEqual(finished?.state, { naps: ["nap", "after"] })
        yield* replacement.logged(`resumed run ${runId}`)
      }),
    40_000
  )

  it.live(
    "rejects a malformed message on every subject with a logged reason and keeps serving",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack({ natsUrl: natsUrl() })
        const scheduler = stack.scheduler()
        const owners: ReadonlyArray<readonly [subject: string, readers: ReadonlyArray<CliProcess>]> = [
          ["stage.register", [stack.registry]],
          ["stage.deregister", [stack.registry]],
          ["stage.heartbeat", [stack.registry]],
          ["stage.list", [stack.registry]],
          ["stage.resolve", [stack.registry]],
          ["run.submit", [scheduler]],
          ["run.cancel", [scheduler]],
          ["ledger.update.x", [scheduler]],
          ["task.run.hello", stack.replicas],
          ["task.result.x", [scheduler]]
        ]
        const nc = yield* Effect.acquireRelease(
          Effect.promise(() => natsConnect({ servers: natsUrl(), name: "e2e-malformed" })),
          (connection) => Effect.promise(() => connection.close())
        )
        // Two kinds of bad bytes per subject: not JSON at all, and JSON that is not an object.
        yield* Effect.promise(() => {
          for (const [subject] of owners) {
            nc.publish(subject, "{not json")
            nc.publish(subject, JSON.stringify(["not", "an", "object"]))
          }
          return nc.flush()
        })

        yield* Effect.forEach(
          owners,
          ([subject, readers]) =>
            eventually(
              `both malformed messages on ${subject} are rejected in a log line naming it`,
              () => {
                const rejections = readers.flatMap((reader) =>
                  reader
                    .stderr()
                    .split("\n")
                    .filter((line) => /malformed/i.test(line) && line.includes(subject))
                )
                return rejections.length >= 2
              },
              { timeout: "10 seconds" }
            ),
          { discard: true }
        )

        for (const service of stack.processes()) {
          assert.isTrue(service.running(), `${service.label} is still running`)
        }
        const after = yield* runPipeline(hello, ["--nats", natsUrl()])
        assert.strictEqual(after.code, 0, after.stderr)
        assert.strictEqual(after.finished?.status, "succeeded")
      }),
    30_000
  )

  it.live(
    "says which service to start when the registry, an executor of a stage type or the scheduler is missing",
    () =>
      Effect.gen(function* () {
        const prefix = uniquePrefix("partial")
        const env = { SWITCHYARD_PREFIX: prefix }
        const nats = ["--nats", natsUrl()]

        const noRegistry = yield* runPipeline(hello, nats, { env, label: "run without a registry" })
        assert.strictEqual(noRegistry.code, 2, noRegistry.stderr)
        assert.include(
          noRegistry.stderr,
          `no registry answers on ${prefix}.stage.resolve: start one with \`switchyard registry --nats ${natsUrl()}\``
        )

        const registry = yield* spawnCli({ label: "registry", args: ["registry", ...nats], env })
        yield* registry.logged("registry ready", { timeout: "20 seconds" })
        const noExecutor = yield* runPipeline(hello, nats, { env, label: "run without executors" })
        assert.strictEqual(noExecutor.code, 2, noExecutor.stderr)
        const lines = noExecutor.stderr.split("\n").filter((line) => line.trim() !== "")
        assert.deepStrictEqual(
          lines,
          ["hello.greet", "hello.shout", "hello.reverse", "hello.letters", "hello.words", "hello.summary"].map(
            (type) =>
              `no executor serves stage type "${type}": start one with \`switchyard executor --pool NAME --nats ${natsUrl()}\` (with \`--module FILE\` when a module of yours defines it)`
          )
        )

        const executor = yield* spawnCli({ label: "executor", args: ["executor", ...nats, "--pool", "hello"], env })
        yield* executor.logged("for pool hello", { timeout: "20 seconds" })
        const noScheduler = yield* runPipeline(hello, nats, { env, label: "run without a scheduler" })
        assert.strictEqual(noScheduler.code, 2, noScheduler.stderr)
        assert.include(
          noScheduler.stderr,
          `no scheduler answers on ${prefix}.run.submit: start one with \`switchyard scheduler --nats ${natsUrl()}\``
        )
      }),
    60_000
  )

  it.live(
    "exits 2 naming file:line:column for an invalid pipeline and 1 for a run that fails",
    () =>
      Effect.gen(function* () {
        const broken = yield* runPipeline("test/e2e/fixtures/broken.yaml")
        assert.strictEqual(broken.code, 2)
        assert.include(broken.stderr, `test/e2e/fixtures/broken.yaml:6:18: stage "greet": stages[0].depends_on[0]: depends on "nowhere"`)
        // --json: the issues, not run events, on stdout.
        assert.deepStrictEqual(
          (JSON.parse(broken.stdout) as { issues: Array<{ path: string }> }).issues.map((issue) => issue.path),
          ["stages[0].depends_on[0]"]
        )

        yield* startStack({ natsUrl: natsUrl() })
        // Unknown stage types are found by the scheduler against the registry, not by the CLI.
        const unknown = yield* runPipeline("test/e2e/fixtures/unknown-type.yaml", ["--nats", natsUrl()])
        assert.strictEqual(unknown.code, 2)
        assert.include(
          unknown.stderr,
          `test/e2e/fixtures/unknown-type.yaml:5:11: stage "greet": stages[0].type: unknown stage type "hello.greeet"`
        )

        // SWITCHYARD_NATS_URL stands in for --nats.
        const failing = yield* runPipeline("test/e2e/fixtures/failing.yaml", [], { env: { SWITCHYARD_NATS_URL: natsUrl() } })
        assert.strictEqual(failing.code, 1, failing.stderr)
        assert.strictEqual(failing.finished?.status, "failed")
        const failed = failing.events.find((event) => event.kind === "stage.failed")
        assert.deepStrictEqual(failed && { stage: failed.stage, message: failed.error?.message }, {
          stage: "boom",
          message: "planned failure"
        })
      }),
    30_000
  )
})
