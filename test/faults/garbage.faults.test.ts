/**
 * Garbage on every Switchyard subject while runs are going: malformed bytes,
 * a wrong `switchyard-type` header on an otherwise valid message, valid JSON
 * of the wrong shape, and about 1 MB of junk, sent to each request subject
 * (as requests, and published without a reply subject), to the task and
 * result work queues through JetStream, and to a run's event, task-cancel and
 * task-cancelled subjects.
 * The valid messages under a wrong header would do harm if their header
 * were ignored (start a run, cancel a run, set a ledger field, run a task,
 * fail a stage, end a watcher's run as failed). No service may die; every
 * request must be answered with a typed `MalformedMessageError`; every
 * garbage work-queue message is dead-lettered and never run; every run
 * succeeds with its result applied once.
 */
import { assert, describe, it } from "@effect/vitest"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect as natsConnect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node"
import { Effect, Fiber, Option, Stream } from "effect"
import { makeNames } from "../../schemas/Subjects.ts"
import { eventually } from "../support/eventually.ts"
import * as NatsServer from "../support/NatsServer.ts"
import { executionsLog, faultsClient, runToEnd, workPipeline, faultsStack } from "./support/faults.ts"

const names = makeNames("")
const runs = 20
const encoder = new TextEncoder()

interface Garbage {
  readonly kind: string
  readonly data: Uint8Array
  readonly type?: string
}

const json = (value: unknown) => encoder.encode(JSON.stringify(value))

/** Garbage for a subject: `valid` is a message the subject would accept, sent under the header `wrongType`. */
const garbageFor = (valid: unknown, wrongType: string, wrongShape: unknown): ReadonlyArray<Garbage> => [
  { kind: "malformed bytes", data: Uint8Array.from([0xff, 0xfe, 0x00, 0x7b, 0x22, 0xc3, 0x28, 0x5d]) },
  { kind: "truncated JSON", data: encoder.encode('{"version":1,"runId":') },
  { kind: "wrong switchyard-type header", data: json(valid), type: wrongType },
  { kind: "valid JSON of the wrong shape", data: json(wrongShape) },
  { kind: "huge junk", data: encoder.encode("x".repeat(1_000_000)) }
]

const withType = (type: string | undefined) => {
  if (type === undefined) return undefined
  const hdrs = natsHeaders()
  hdrs.set("switchyard-type", type)
  return hdrs
}

describe("garbage on every subject while runs are going", () => {
  it.live(
    "no service dies, requests are answered with typed errors, work-queue garbage is dead-lettered, every run succeeds once",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        const executions = executionsLog()
        const stack = yield* faultsStack(server.url, executions.path)
        const client = yield* faultsClient(server.url)
        const nc = yield* Effect.acquireRelease(
          Effect.promise(() => natsConnect({ servers: server.url, name: "garbage" })),
          (connection: NatsConnection) => Effect.promise(() => connection.close())
        )
        const js = jetstream(nc)

        // Runs under way, and the id of one of them that garbage aims at by name.
        const aimed = yield* client.submitRun({
          pipeline: workPipeline(1500),
          file: "faults.yaml",
          inputs: { label: "aimed", crash: false }
        })
        const others = yield* Effect.forkScoped(
          Effect.forEach(
            Array.from({ length: runs - 1 }, (_, index) => `run-${index}`),
            (label) => runToEnd(client, { label, ms: 1500, timeout: "150 seconds" }),
            { concurrency: "unbounded" }
          )
        )
        const runId = aimed.runId
        const aimedEnd = yield* Effect.forkScoped(
          Effect.gen(function* () {
            const events = [...(yield* Stream.runCollect(aimed.events).pipe(Effect.timeout("150 seconds")))]
            return events
          })
        )
        yield* eventually("4 tasks started", () => [...executions.counts().values()].reduce((a, b) => a + b, 0) >= 4, {
          timeout: "90 seconds",
          interval: "50 millis"
        })

        const requestSubjects: ReadonlyArray<{ subject: string; garbage: ReadonlyArray<Garbage> }> = [
          {
            subject: names.stageRegister,
            garbage: garbageFor({ version: 1 }, "TaskRun/1", { version: 1, stages: "all of them" })
          },
          {
            // Under a StageDeregistration header this would withdraw faults.work from replica a.
            subject: names.stageDeregister,
            garbage: garbageFor(
              {
                version: 1,
                pool: "faults",
                executorId: stack.replicas[0]!.executorId,
                plugin: "faults",
                types: ["faults.work"],
                reason: "plugin-removed"
              },
              "Heartbeat/1",
              { version: 1, pool: "faults", types: "faults.work" }
            )
          },
          {
            subject: names.stageHeartbeat,
            garbage: garbageFor({ version: 1, pool: "faults", executorId: "garbage-executor", slots: 4, inFlight: 0 }, "RunCancel/1", {
              version: 1,
              pool: 7
            })
          },
          {
            subject: names.stageResolve,
            garbage: garbageFor({ version: 1, types: ["faults.work"] }, "StageListRequest/1", { version: 1, types: "faults.work" })
          },
          { subject: names.stageList, garbage: garbageFor({ version: 1 }, "RunSubmit/1", { version: 2 }) },
          {
            // Under a RunSubmit header this would start a run.
            subject: names.runSubmit,
            garbage: garbageFor(
              {
                version: 1,
                file: "garbage.yaml",
                text: workPipeline(10),
                inputs: { label: "garbage", crash: false },
                runId: "garbage-run"
              },
              "RunCancel/1",
              { version: 1, file: ["garbage.yaml"], text: 3 }
            )
          },
          {
            // Under a RunCancel header this would cancel the aimed run.
            subject: names.runCancel,
            garbage: garbageFor({ version: 1, runId, reason: "garbage" }, "LedgerUpdate/1", { version: 1, runId: { id: runId } })
          },
          {
            // Under a LedgerUpdate header this would set a field of the aimed run's ledger.
            subject: names.ledgerUpdate(runId),
            garbage: garbageFor({ version: 1, runId, fields: { garbage: true } }, "RunCancel/1", { version: 1, runId, fields: [1, 2] })
          }
        ]
        const replies: Array<{ subject: string; kind: string; type: string | undefined; body: Record<string, unknown> }> = []
        for (const { subject, garbage } of requestSubjects) {
          for (const item of garbage) {
            // Published without a reply subject: nothing to answer, and nobody may die of it.
            const hdrs = withType(item.type)
            nc.publish(subject, item.data, hdrs === undefined ? {} : { headers: hdrs })
            const reply = yield* Effect.promise(() =>
              nc.request(subject, item.data, { timeout: 30_000, ...(hdrs === undefined ? {} : { headers: hdrs }) })
            )
            replies.push({ subject, kind: item.kind, type: reply.headers?.get("switchyard-type"), body: reply.json() })
          }
        }

        // The work queues, through JetStream: a task that would run, a result that would fail the aimed run's stage.
        const queued: Array<{ subject: string; kind: string }> = []
        const queues: ReadonlyArray<{ subject: string; garbage: ReadonlyArray<Garbage> }> = [
          {
            subject: names.taskRun("faults"),
            garbage: garbageFor(
              {
                version: 1,
                taskId: "garbage-task",
                runId: "",
                stage: "faults.work",
                stageType: "faults.work",
                attempt: 1,
                inputs: { label: "garbage-task", crash: false, ms: 10 },
                replyTo: names.taskResult("adhoc-garbage")
              },
              "TaskResult/1",
              { version: 1, taskId: ["garbage"], inputs: {} }
            )
          },
          {
            subject: names.taskResult(runId),
            garbage: garbageFor(
              {
                version: 1,
                taskId: "garbage-result",
                runId,
                stage: "work",
                stageType: "faults.work",
                attempt: 1,
                executorId: "garbage-executor",
                pool: "faults",
                status: "failed",
                error: { tag: "GarbageError", message: "garbage", retryable: false },
                durationMs: 1
              },
              "TaskRun/1",
              { version: 1, taskId: "garbage-result", runId, status: "exploded" }
            )
          }
        ]
        for (const { subject, garbage } of queues) {
          for (const item of garbage) {
            const hdrs = withType(item.type)
            yield* Effect.promise(() => js.publish(subject, item.data, hdrs === undefined ? {} : { headers: hdrs }))
            queued.push({ subject, kind: item.kind })
          }
        }

        // Subjects nobody answers: under their own header, these would end the aimed run's watcher as
        // failed, stop the aimed run's tasks, or tell the scheduler they were stopped.
        const published: ReadonlyArray<{ subject: string; garbage: ReadonlyArray<Garbage> }> = [
          {
            subject: names.runEvent(runId),
            garbage: garbageFor(
              { version: 1, runId, seq: 1_000, at: Date.now(), kind: "run.finished", status: "failed", state: {} },
              "TaskResult/1",
              { kind: "run.finished", status: "exploded" }
            )
          },
          {
            subject: names.taskCancel(runId),
            garbage: garbageFor({ version: 1, runId, reason: "garbage" }, "RunCancel/1", { version: 1, runId: [runId] })
          },
          {
            subject: names.taskCancelled(runId),
            garbage: garbageFor(
              { version: 1, runId, executorId: stack.replicas[0]!.executorId, pool: "faults", taskIds: ["garbage-task"] },
              "TaskCancel/1",
              { version: 1, runId, taskIds: "all" }
            )
          }
        ]
        for (const { subject, garbage } of published) {
          for (const item of garbage) {
            const hdrs = withType(item.type)
            nc.publish(subject, item.data, hdrs === undefined ? {} : { headers: hdrs })
          }
        }
        yield* Effect.promise(() => nc.flush())

        const ends = yield* Fiber.join(others)
        const aimedEvents = yield* Fiber.join(aimedEnd)

        // Every request answered with a typed error naming the subject; a wrong header named by its path.
        for (const reply of replies) {
          const where = `${reply.subject}, ${reply.kind}`
          assert.strictEqual(reply.type, "EndpointError/1", where)
          assert.strictEqual(reply.body["_tag"], "MalformedMessageError", `${where}: ${JSON.stringify(reply.body)}`)
          assert.strictEqual(reply.body["subject"], reply.subject, where)
          if (reply.kind === "wrong switchyard-type header") assert.strictEqual(reply.body["path"], "headers.switchyard-type", where)
        }
        assert.strictEqual(replies.length, requestSubjects.length * 5)

        // Every run succeeded, applied once; the aimed one too, its watcher undisturbed by the garbage events.
        const notSucceeded = ends.filter((end) => end.status !== "succeeded").map((end) => `${end.label}: ${end.status}`)
        assert.deepStrictEqual(notSucceeded, [], "every run succeeds")
        for (const end of ends) assert.deepStrictEqual(end.applied, [end.label], `${end.label} applied exactly once`)
        const finished = aimedEvents.at(-1)
        assert.strictEqual(finished?.kind === "run.finished" ? finished.status : undefined, "succeeded", "the aimed run's watcher")
        const aimedRecord = Option.getOrUndefined(yield* client.getRun(runId))
        assert.strictEqual(aimedRecord?.status, "succeeded")
        assert.deepStrictEqual(aimedRecord?.state["work"], ["aimed"])
        assert.deepStrictEqual(aimedRecord?.ledger, {}, "no garbage ledger field")
        assert.isTrue(Option.isNone(yield* client.getRun("garbage-run")), "no run started by garbage")

        // Every garbage work-queue message dead-lettered, none run.
        const jsm = yield* Effect.promise(() => jetstreamManager(nc))
        yield* eventually(
          `the ${queued.length} garbage work-queue messages dead-lettered`,
          Effect.promise(() => jsm.streams.info(names.streams.deadLetters)).pipe(
            Effect.map((info) => info.state.messages === queued.length || `${info.state.messages} dead letters`)
          ),
          { timeout: "60 seconds", interval: "200 millis" }
        )
        assert.isFalse(executions.counts().has("garbage-task"), "the garbage task never ran")

        // Nobody died, and every service still answers.
        assert.deepStrictEqual(
          stack
            .processes()
            .filter((process) => !process.running())
            .map((process) => process.label),
          [],
          "no service process exited"
        )
        yield* stack.schedulerReady
      }).pipe(Effect.scoped),
    240_000
  )
})
