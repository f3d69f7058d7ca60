/**
 * The durable-run message floor: the NATS operations a one-stage durable run
 * performs when it keeps Switchyard's guarantees, written directly against
 * nats.js with nothing else (no Effect, no schemas, no stage code), so the
 * dispatch benchmark shows what any implementation with those guarantees
 * costs on the same server. Three roles, each on its own connection opened
 * with the raw baselines' options. The client subscribes to the run's event
 * subject (flushed, so the server knows the interest) and sends a core
 * `submit` request. The scheduler creates the run record in a KV bucket,
 * publishes the task with a message id into a file-backed work-queue stream
 * and replies, each write awaited before the next step (the run is durable
 * before anything it dispatches leaves). The executor's pull consumer
 * publishes the result with a message id into a file-backed results stream,
 * awaited (the result is durable before the task is acked), then acks the
 * task. The scheduler's pull consumer of results saves the record (KV put,
 * awaited: state is saved before the run's end is announced), publishes the
 * run's finished event on core NATS and acks the result. An operation ends
 * when the client has the finished event. Payloads are JSON of about the
 * size of Switchyard's (a ~1 KB run record, a ~300 B task, a ~200 B result),
 * built and read only for the ids they carry.
 */
import { type JetStreamClient, jetstream, jetstreamManager, type JsMsg, StorageType } from "@nats-io/jetstream"
import { type KV, Kvm } from "@nats-io/kv"
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node"
import { encode, pipeline, resultPayload, runRecordPayload, type TaskIds, taskPayload } from "./floorPayloads.ts"
import { type RawPlan, type ScenarioResult, workQueue } from "./rawNats.ts"
import { concurrentPromise, sequentialPromise } from "./stats.ts"

/** The subjects, streams and bucket of one floor measurement. */
interface Names {
  readonly tasks: string
  readonly results: string
  readonly bucket: string
  readonly submit: string
  readonly taskRun: string
  readonly taskRunAll: string
  readonly taskResultAll: string
  readonly taskResult: (runId: string) => string
  readonly event: (runId: string) => string
}

const names = (prefix: string): Names => ({
  tasks: `${prefix.toUpperCase()}_FLOOR_TASKS`,
  results: `${prefix.toUpperCase()}_FLOOR_RESULTS`,
  bucket: `${prefix}_floor_runs`,
  submit: `${prefix}.run.submit`,
  taskRun: `${prefix}.task.run.noop`,
  taskRunAll: `${prefix}.task.run.>`,
  taskResultAll: `${prefix}.task.result.>`,
  taskResult: (runId) => `${prefix}.task.result.${runId}`,
  event: (runId) => `${prefix}.run.event.${runId}`
})

const submitRequest = (runId: string) => encode({ version: 1, runId, file: "bench.yaml", pipeline, inputs: {} })
const pool = "noop"

const accepted = (runId: string) => encode({ version: 1, runId, accepted: true })
const finished = (runId: string) => encode({ version: 1, kind: "run.finished", runId, status: "succeeded", state: { noop: {} } })

const open = (url: string, name: string): Promise<NatsConnection> => connect({ servers: url, name })

/** Scheduler, on `submit`: record created, then the task enqueued, then the reply. */
const acceptRun = async (kv: KV, js: JetStreamClient, n: Names, msg: Msg) => {
  const { runId } = msg.json<{ readonly runId: string }>()
  const ids: TaskIds = { runId, taskId: `${runId}-noop0`, attempt: 1 }
  await kv.create(runId, runRecordPayload({ runId, taskId: ids.taskId, pool, done: false }))
  await js.publish(n.taskRun, taskPayload(ids, pool), { msgID: `${ids.taskId}:${ids.attempt}` })
  msg.respond(accepted(runId))
}

/** Executor, on a task: the result enqueued, then the task acked. */
const runTask = async (js: JetStreamClient, n: Names, msg: JsMsg) => {
  const ids = msg.json<TaskIds>()
  await js.publish(n.taskResult(ids.runId), resultPayload(ids), { msgID: `${ids.taskId}:${ids.attempt}` })
  msg.ack()
}

/** Scheduler, on a result: the record saved, then the finished event, then the result acked. */
const applyResult = async (nc: NatsConnection, kv: KV, n: Names, msg: JsMsg) => {
  const ids = msg.json<TaskIds>()
  await kv.put(ids.runId, runRecordPayload({ runId: ids.runId, taskId: ids.taskId, pool, done: true }))
  nc.publish(n.event(ids.runId), finished(ids.runId))
  msg.ack()
}

/** One-stage durable runs reduced to their NATS operations: sequential latency, then throughput with `inFlight` outstanding. */
export const durableRunFloor = async (url: string, prefix: string, plan: RawPlan): Promise<ScenarioResult> => {
  const n = names(prefix)
  const scheduler = await open(url, `${prefix}-floor-scheduler`)
  const executor = await open(url, `${prefix}-floor-executor`)
  const client = await open(url, `${prefix}-floor-client`)
  const jsm = await jetstreamManager(scheduler)
  const waiting = new Map<string, { readonly resolve: () => void; readonly reject: (error: unknown) => void }>()
  let failure: unknown
  const fail = (error: unknown) => {
    failure ??= error
    for (const waiter of waiting.values()) waiter.reject(error)
    waiting.clear()
  }
  let kv: KV | undefined
  try {
    await workQueue(jsm, n.tasks, n.taskRunAll, "floor-executor", plan)
    await workQueue(jsm, n.results, n.taskResultAll, "floor-scheduler", plan)
    const runs = await new Kvm(scheduler).create(n.bucket, { history: 1, storage: StorageType.File })
    kv = runs
    const schedulerJs = jetstream(scheduler)
    const executorJs = jetstream(executor)

    scheduler.subscribe(n.submit, {
      callback: (error, msg) => {
        if (error === null) acceptRun(runs, schedulerJs, n, msg).catch(fail)
        else fail(error)
      }
    })
    await scheduler.flush()
    const results = await schedulerJs.consumers.get(n.results, "floor-scheduler")
    const applying = await results.consume({
      max_messages: plan.concurrent.inFlight,
      callback: (msg) => {
        applyResult(scheduler, runs, n, msg).catch(fail)
      }
    })
    const tasks = await executorJs.consumers.get(n.tasks, "floor-executor")
    const executing = await tasks.consume({
      max_messages: plan.concurrent.inFlight,
      callback: (msg) => {
        runTask(executorJs, n, msg).catch(fail)
      }
    })

    let counter = 0
    const once = async () => {
      if (failure !== undefined) throw failure
      const runId = `r${(counter++).toString(16).padStart(10, "0")}`
      const done = new Promise<void>((resolve, reject) => waiting.set(runId, { resolve, reject }))
      // Rejected only by `fail`, possibly before it is awaited below.
      done.catch(() => undefined)
      client.subscribe(n.event(runId), {
        max: 1,
        callback: (error) => {
          const waiter = waiting.get(runId)
          waiting.delete(runId)
          if (error === null) waiter?.resolve()
          else waiter?.reject(error)
        }
      })
      await client.flush()
      await Promise.all([client.request(n.submit, submitRequest(runId), { timeout: 10_000 }), done])
    }
    const sequential = await sequentialPromise(plan.sequential, once)
    const concurrent = await concurrentPromise(plan.concurrent, once)
    executing.stop()
    applying.stop()
    return { sequential, concurrent }
  } finally {
    await kv?.destroy().catch(() => false)
    await jsm.streams.delete(n.tasks).catch(() => false)
    await jsm.streams.delete(n.results).catch(() => false)
    await client.close()
    await executor.close()
    await scheduler.close()
  }
}
