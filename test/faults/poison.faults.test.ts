/**
 * A poison task next to good runs: one task makes every executor process
 * that starts it exit, beside 30 ordinary runs on the same pool. The two
 * replicas are separate processes, restarted by the test whenever they die
 * (as a supervisor or Kubernetes would). Every good run must succeed with
 * its result applied once; the poison task must be dead-lettered as poison,
 * naming itself, after crashing the replicas that ran it alone
 * `SWITCHYARD_CRASH_LIMIT` times, and fail its run.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { connect as natsConnect } from "@nats-io/transport-node"
import { jetstreamManager } from "@nats-io/jetstream"
import { Context, Effect, Fiber, Layer, Stream } from "effect"
import * as NatsBus from "../../services/bus/NatsBus.ts"
import { SwitchyardClient } from "../../services/bus/SwitchyardClient.ts"
import { makeNames } from "../../schemas/Subjects.ts"
import { type CliProcess, readyTimeout, spawnCli } from "../e2e/support/CliProcess.ts"
import { startStack } from "../e2e/support/Stack.ts"
import { ownNatsServer } from "../e2e/support/ownNatsServer.ts"

const natsUrl = ownNatsServer()
const names = makeNames("")

const pipeline = `
name: faults
stages:
  - name: work
    type: faults.work
    inputs: { label: "{{ inputs.label }}", crash: "{{ inputs.crash }}", ms: 1500 }
`

const good = 30

describe("a poison task next to good runs", () => {
  it.live(
    "dead-letters the poison task as poison and every good run succeeds, applied once",
    () =>
      Effect.gen(function* () {
        const executions = join(mkdtempSync(join(tmpdir(), "switchyard-faults-")), "executions.log")
        const stack = yield* startStack({ natsUrl: natsUrl(), replicas: [] })
        // Two replicas, each started again whenever it exits, until the test ends.
        const started: Array<CliProcess> = []
        const replica = (label: string) =>
          Effect.gen(function* () {
            for (let generation = 1; ; generation++) {
              const cli = yield* spawnCli({
                label: `executor-${label}-${generation}`,
                args: [
                  "executor",
                  "--nats",
                  natsUrl(),
                  "--pool",
                  "faults",
                  "--slots",
                  "4",
                  "--module",
                  "test/faults/fixtures/crashStages.ts"
                ],
                env: { FAULTS_EXECUTIONS: executions, SWITCHYARD_ACK_WAIT: "3 seconds", SWITCHYARD_CRASH_LIMIT: "2" }
              })
              started.push(cli)
              yield* cli.exited
            }
          })
        yield* Effect.forkScoped(replica("a"))
        yield* Effect.forkScoped(replica("b"))
        yield* Effect.suspend(() => started[0]?.logged("for pool faults", readyTimeout) ?? Effect.fail("no replica yet")).pipe(
          Effect.retry({ times: 100 })
        )

        const client = yield* Layer.build(
          SwitchyardClient.layer.pipe(Layer.provide(NatsBus.layer({ url: natsUrl(), name: "faults-client" })))
        ).pipe(Effect.map((context) => Context.get(context, SwitchyardClient)))
        const submit = (label: string, crash: boolean) =>
          client
            .submitRun({ pipeline, file: "faults.yaml", inputs: { label, crash } })
            .pipe(
              Effect.flatMap((run) =>
                Stream.runLast(run.events.pipe(Stream.filter((event) => event.kind === "run.finished"))).pipe(
                  Effect.map((finished) => ({ runId: run.runId, label, finished }))
                )
              )
            )
        // The poison first, so it shares its first replica with good tasks.
        const poisonFiber = yield* Effect.forkScoped(submit("poison", true))
        const runs = yield* Effect.forEach(
          Array.from({ length: good }, (_, index) => `good-${index}`),
          (label) => submit(label, false),
          { concurrency: "unbounded" }
        ).pipe(Effect.timeout("180 seconds"))
        const poison = yield* Fiber.join(poisonFiber).pipe(Effect.timeout("120 seconds"))

        const failedGood = runs.filter(
          (run) =>
            !(run.finished._tag === "Some" && run.finished.value.kind === "run.finished" && run.finished.value.status === "succeeded")
        )
        assert.deepStrictEqual(
          failedGood.map((run) => run.label),
          [],
          "every good run succeeds"
        )
        for (const run of runs) {
          const finished = run.finished._tag === "Some" ? run.finished.value : undefined
          assert.strictEqual(finished?.kind === "run.finished" ? finished.status : undefined, "succeeded", `${run.label} did not succeed`)
          const record = yield* client.getRun(run.runId)
          assert.deepStrictEqual(record._tag === "Some" ? record.value.state["work"] : undefined, [run.label], `${run.label} applied once`)
        }
        const poisonFinished = poison.finished._tag === "Some" ? poison.finished.value : undefined
        assert.strictEqual(poisonFinished?.kind === "run.finished" ? poisonFinished.status : undefined, "failed")
        const poisonRecord = yield* client.getRun(poison.runId)
        const error = poisonRecord._tag === "Some" ? poisonRecord.value.stages["work"]?.error : undefined
        assert.include(error?.message ?? "", "poison", "the stage fails saying the task is poison")

        // One dead letter, the poison's, naming it.
        const nc = yield* Effect.promise(() => natsConnect({ servers: natsUrl() }))
        yield* Effect.addFinalizer(() => Effect.promise(() => nc.close()))
        const jsm = yield* Effect.promise(() => jetstreamManager(nc))
        const info = yield* Effect.promise(() => jsm.streams.info(names.streams.deadLetters))
        assert.strictEqual(info.state.messages, 1, "exactly one task was dead-lettered")
        const letter = yield* Effect.promise(() => jsm.streams.getMessage(names.streams.deadLetters, { seq: info.state.first_seq }))
        const record = letter!.json<{ reason: string; data: string }>()
        assert.include(record.reason, "poison")
        assert.include(Buffer.from(record.data, "base64").toString(), poison.runId)

        // The poison started on its first replica, then alone `crashLimit` times; good tasks ran at least once each.
        const lines = readFileSync(executions, "utf8").trim().split("\n")
        assert.strictEqual(lines.filter((line) => line === "poison").length, 3)
        for (let index = 0; index < good; index++) assert.include(lines, `good-${index}`)
        void stack
      }).pipe(Effect.scoped),
    300_000
  )

  it.live(
    "reports an oversized poison task, whose dead letter cannot hold it, and fails its run naming the size limit",
    () =>
      Effect.gen(function* () {
        // The task goes by value (a threshold past its size), so its dead letter would pass max_payload.
        yield* startStack({ natsUrl: natsUrl(), replicas: [], schedulerEnv: { SWITCHYARD_BLOB_THRESHOLD: "1000000" } })
        const started: Array<CliProcess> = []
        const replica = Effect.gen(function* () {
          for (let generation = 1; ; generation++) {
            const cli = yield* spawnCli({
              label: `executor-big-${generation}`,
              args: [
                "executor",
                "--nats",
                natsUrl(),
                "--pool",
                "faults",
                "--slots",
                "1",
                "--module",
                "test/faults/fixtures/crashStages.ts"
              ],
              env: { SWITCHYARD_ACK_WAIT: "2 seconds", SWITCHYARD_CRASH_LIMIT: "1", SWITCHYARD_BLOB_THRESHOLD: "1000000" }
            })
            started.push(cli)
            yield* cli.exited
          }
        })
        yield* Effect.forkScoped(replica)
        yield* Effect.suspend(() => started[0]?.logged("for pool faults", readyTimeout) ?? Effect.fail("no replica yet")).pipe(
          Effect.retry({ times: 100 })
        )
        const client = yield* Layer.build(
          SwitchyardClient.layer.pipe(Layer.provide(NatsBus.layer({ url: natsUrl(), name: "faults-big" })))
        ).pipe(Effect.map((context) => Context.get(context, SwitchyardClient)))
        const label = `poison-${"x".repeat(800_000)}`
        const run = yield* client.submitRun({ pipeline, file: "faults.yaml", inputs: { label, crash: true } })
        const finished = yield* Stream.runLast(run.events.pipe(Stream.filter((event) => event.kind === "run.finished"))).pipe(
          Effect.timeout("120 seconds")
        )
        const event = finished._tag === "Some" ? finished.value : undefined
        assert.strictEqual(event?.kind === "run.finished" ? event.status : undefined, "failed")
        const record = yield* client.getRun(run.runId)
        const error = record._tag === "Some" ? record.value.stages["work"]?.error : undefined
        assert.strictEqual(error?.tag, "TaskUndeliverableError")
        assert.include(error?.message ?? "", "poison")
        assert.include(error?.message ?? "", "over the server's max_payload of 1048576")
      }).pipe(Effect.scoped),
    300_000
  )
})
