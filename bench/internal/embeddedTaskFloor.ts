/**
 * The embedded task floor: the in-memory bus work one no-op task of a run
 * needs when it keeps Switchyard's guarantees, done directly on the
 * in-memory bus adapter with nothing of the scheduler or the executor (no
 * schemas, no spans, no stage code, payloads built once), so the dispatch
 * benchmark shows how many tasks per second any embedded implementation of
 * those guarantees can reach on the same bus. Per task, as the scheduler
 * dispatches it, a ~300 B task is enqueued with a message id on the pool's
 * work queue (`task.run.<pool>`). A caller of the pool's durable consumer,
 * declared and consumed as the executor does (`consume` with the
 * executor's slots), takes it, enqueues a ~200 B result with a message id on
 * the results stream (`task.result.<runId>`), and only then acks the task
 * (the result is stored before the task is done). A caller of the
 * scheduler's durable consumer of results takes the result, saves the
 * run's ~1 KB record in the runs bucket with compare-and-set on the revision
 * it last wrote (as the scheduler's save does), and only then acks the
 * result. The ids travel in headers, so nothing is parsed. Tasks are spread
 * over as many runs as the executor has slots; the runs' records are
 * created before the clock starts. Like the executor row, every task of a
 * round is enqueued at once and the consumers' slots bound how many are
 * being worked on.
 */
import { Effect, Stream } from "effect"
import { Bus, type ConsumerConfig, type Headers, type JobMessage, type KvStore } from "../../services/bus/Bus.ts"
import { TypeHeader } from "../../schemas/Codec.ts"
import { resultsStream, schedulerConsumer, tasksStream } from "../../services/bus/Streams.ts"
import { type Names, Subjects } from "../../schemas/Subjects.ts"
import { WireType } from "../../schemas/Catalog.ts"
import { benchPool, type DeploymentOptions, memoryBus } from "./deployment.ts"
import { resultPayload, runRecordPayload, taskPayload } from "./floorPayloads.ts"
import { timed } from "./stats.ts"

const runHeader = "bench-run-id"
const taskHeader = "bench-task-id"

// One set of bytes for every task: the ids that matter travel in the headers.
const ids = { runId: "r0000000000", taskId: "r0000000000-noop0", attempt: 1 }
const taskBytes = taskPayload(ids, benchPool)
const result = resultPayload(ids)
const record = runRecordPayload({ ...ids, pool: benchPool, done: true })

const idHeaders = (type: string, run: string, task: string): Headers => ({ [TypeHeader]: type, [runHeader]: run, [taskHeader]: task })

/** The pool's durable consumer as the executor declares it with its default settings. */
const poolConsumer = (names: Names, slots: number): ConsumerConfig => ({
  stream: names.streams.tasks,
  durable: names.consumers.pool(benchPool),
  filterSubject: names.taskRun(benchPool),
  ackWait: "30 seconds",
  maxDeliver: 5,
  maxAckPending: slots * 4,
  deadLetterSubject: names.deadLetter("task.run")
})

/** Everything one round needs: the bus, the consumers, the runs and the revisions last written. */
interface Floor {
  readonly bus: Bus["Service"]
  readonly names: Names
  readonly tasks: ConsumerConfig
  readonly results: ConsumerConfig
  readonly options: DeploymentOptions
  readonly runs: KvStore
  readonly runIds: ReadonlyArray<string>
  readonly revisions: Map<string, number>
}

/** Streams, consumers and bucket declared; one record created per run. */
const setUp = (options: DeploymentOptions) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const names = yield* Subjects
    const tasks = poolConsumer(names, options.slots)
    const results = schedulerConsumer(names, { ackWait: "30 seconds", maxAckPending: options.resultConcurrency * 4 })
    yield* bus.ensureStream(tasksStream(names))
    yield* bus.ensureStream(resultsStream(names))
    yield* bus.ensureConsumer(tasks)
    yield* bus.ensureConsumer(results)
    const runs = yield* bus.kv(names.buckets.runs)
    const runIds = Array.from({ length: options.slots }, (_, i) => `r${i.toString(16).padStart(10, "0")}`)
    const revisions = new Map<string, number>()
    for (const id of runIds) revisions.set(id, yield* runs.create(id, record))
    return { bus, names, tasks, results, options, runs, runIds, revisions } satisfies Floor
  })

let taskCounter = 0

/** Scheduler: the next task enqueued on the pool's work queue with its message id. */
const dispatch = (floor: Floor) => {
  const i = taskCounter++
  const run = floor.runIds[i % floor.runIds.length]!
  const task = `${run}-t${i}`
  return floor.bus.enqueue(floor.tasks.filterSubject, taskBytes, {
    msgId: `${task}:1`,
    headers: idHeaders(WireType.TaskRun, run, task)
  })
}

/** Executor: the result enqueued with its message id, then the task acked. */
const runTask = (floor: Floor) => (job: JobMessage) => {
  const run = job.headers[runHeader]!
  const task = job.headers[taskHeader]!
  return floor.bus
    .enqueue(floor.names.taskResult(run), result, { msgId: `${task}:1`, headers: idHeaders(WireType.TaskResult, run, task) })
    .pipe(Effect.andThen(job.ack))
}

/** Scheduler: the run's record saved on the revision it last wrote, then the result acked. */
const applyResult = (floor: Floor) => (job: JobMessage) => {
  const run = job.headers[runHeader]!
  return floor.runs.update(run, record, floor.revisions.get(run)!).pipe(
    Effect.flatMap((revision) => {
      floor.revisions.set(run, revision)
      return job.ack
    })
  )
}

/** `count` tasks enqueued at once, run by the executor's consumer, their results applied; the seconds it took. */
const round = (floor: Floor, count: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { bus, options } = floor
      const tasks = yield* bus.consume({ stream: floor.tasks.stream, durable: floor.tasks.durable, slots: options.slots })
      const results = yield* bus.consume({ stream: floor.results.stream, durable: floor.results.durable, slots: options.resultConcurrency })
      const executor = Stream.runForEach(tasks, runTask(floor))
      const scheduler = Effect.gen(function* () {
        for (let i = 0; i < count; i++) yield* dispatch(floor)
        yield* results.pipe(Stream.take(count), Stream.runForEach(applyResult(floor)))
      })
      // The executor's loop only ends by failing; the round ends when every result is applied.
      const { seconds } = yield* timed(Effect.raceFirst(scheduler, executor))
      return seconds
    })
  )

/** Tasks per second of the embedded task floor, after a warm-up of `warmup` tasks. */
export const embeddedTaskFloor = (options: DeploymentOptions, warmup: number, count: number): Promise<number> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const floor = yield* setUp(options)
      yield* round(floor, warmup)
      const seconds = yield* round(floor, count)
      return count / seconds
    }).pipe(Effect.provide(memoryBus(options)))
  )
