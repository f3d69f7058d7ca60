/**
 * The payloads of the dispatch benchmark's floor rows: JSON of about the
 * size of a one-stage run's own messages (a ~300 B task, a ~200 B result, a
 * ~1 KB run record), shaped like them, built only to be carried.
 */

/** The ids a task or a result carries. */
export interface TaskIds {
  readonly runId: string
  readonly taskId: string
  readonly attempt: number
}

const textEncoder = new TextEncoder()

/** JSON bytes of a value. */
export const encode = (value: unknown): Uint8Array => textEncoder.encode(JSON.stringify(value))

/** The one-stage pipeline the floors pretend to run. */
export const pipeline = "name: bench-noop-1\nstages:\n  - name: noop0\n    type: hello.noop\n"
const startedAt = "2026-12-02T12:00:00.000Z"
const finishedAt = "2026-12-02T12:00:00.002Z"
const traceparent = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"

/** A task of about 300 B for `pool`. */
export const taskPayload = (ids: TaskIds, pool: string): Uint8Array =>
  encode({
    version: 1,
    ...ids,
    stage: "noop0",
    stageType: "hello.noop",
    pool,
    inputs: {},
    secrets: [],
    leaseMs: 30_000,
    deadline: "2026-12-02T12:05:00.000Z",
    traceparent
  })

/** A result of about 200 B. */
export const resultPayload = (ids: TaskIds): Uint8Array =>
  encode({
    version: 1,
    ...ids,
    stage: "noop0",
    status: "succeeded",
    output: {},
    metrics: { ms: 0.01 },
    executor: "bench-executor",
    finishedAt
  })

/** A run record of about 1 KB, like a one-stage run's in the runs bucket: just created, or with its stage done. */
export const runRecordPayload = (options: {
  readonly runId: string
  readonly taskId: string
  readonly pool: string
  readonly done: boolean
}) => {
  const { done, pool, runId, taskId } = options
  return encode({
    version: 1,
    runId,
    status: done ? "succeeded" : "running",
    file: "bench.yaml",
    source: pipeline,
    pipeline: { name: "bench-noop-1", stages: [{ name: "noop0", type: "hello.noop", needs: [], with: {} }] },
    stageTypes: {
      "hello.noop": {
        type: "hello.noop",
        pool,
        version: "1.0.0",
        description: "Does nothing and succeeds; for measuring dispatch.",
        output: { path: "noop", mode: "merge" },
        counts: { field: "items", label: "items" },
        inputs: {},
        secrets: []
      }
    },
    inputs: {},
    stages: {
      noop0: {
        status: done ? "succeeded" : "queued",
        taskId,
        attempt: 1,
        queuedAt: startedAt,
        startedAt: done ? startedAt : null,
        finishedAt: done ? finishedAt : null,
        executor: done ? "bench-executor" : null,
        outputs: done ? 0 : null,
        error: null
      }
    },
    state: done ? { noop: {} } : {},
    createdAt: startedAt,
    updatedAt: done ? finishedAt : startedAt,
    finishedAt: done ? finishedAt : null,
    transitions: done ? 3 : 1,
    traceparent
  })
}
