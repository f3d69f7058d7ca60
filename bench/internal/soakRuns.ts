/**
 * The work of one soak burst: many small runs of the `hello` pipeline (six
 * tasks each: greet, four side by side, a summary) and a few fan-out runs
 * (`hello.greet` over a list of names, one task per name, then a no-op),
 * submitted through the client with a bounded number in flight and each
 * followed to its `run.finished`. About a tenth of a burst's tasks are
 * fan-out tasks. Two runs of each burst are fan-out runs meant to fail (every
 * item fails for good, `hello.fail`), so what a run that ends early leaves
 * behind shows too. A run that fails otherwise or outlives its deadline is
 * counted, not thrown: the soak measures memory and goes on.
 */
import { readFileSync } from "node:fs"
import type { SwitchyardConnection } from "../../sdk/client.ts"
import { repoRoot } from "./corpusProcess.ts"

/** Tasks of one run of the `hello` pipeline. */
export const helloTasks = 6
/** Names (one task each) of one fan-out run; the run has one more task, the no-op after them. */
export const fanOutItems = 50

const helloPipeline = readFileSync(`${repoRoot}/examples/pipelines/hello.yaml`, "utf8")

const fanOutPipeline = `
name: soak-fanout
inputs:
  names: []
stages:
  - name: greet
    type: hello.greet
    for_each: "{{ inputs.names }}"
    max_parallel: 16
    inputs:
      name: "{{ item }}"
  - name: done
    type: hello.noop
    depends_on: [greet]
    inputs: {}
`

const failingPipeline = `
name: soak-failing-fanout
inputs:
  names: []
stages:
  - name: greet
    type: hello.fail
    for_each: "{{ inputs.names }}"
    max_parallel: 4
    inputs:
      message: "{{ item }} fails for good"
      retryable: false
`

/** Fan-out runs of every burst that fail as planned; each sends up to `max_parallel` (4) tasks before its first failure ends it. */
export const failingRuns = 2

/** The runs of a burst of about `tasks` tasks. */
export const burstPlan = (tasks: number) => {
  const fanOutRuns = Math.max(1, Math.round((tasks * 0.1) / (fanOutItems + 1)))
  const helloRuns = Math.max(1, Math.round((tasks - fanOutRuns * (fanOutItems + 1)) / helloTasks))
  return { helloRuns, fanOutRuns, failingRuns, tasks: helloRuns * helloTasks + fanOutRuns * (fanOutItems + 1) }
}

/** How a burst went. */
export interface BurstOutcome {
  readonly runs: number
  readonly tasks: number
  readonly succeeded: number
  /** Runs meant to fail that failed. */
  readonly failedAsPlanned: number
  /** Runs that did not end as planned, by status or `timed out`, with one example each. */
  readonly failures: ReadonlyMap<string, { count: number; example: string }>
  readonly seconds: number
}

type Kind = "hello" | "fanout" | "failing"

const names = Array.from({ length: fanOutItems }, (_, index) => `soak-${index}`)

/** Submits one run and waits for its end; resolves with `succeeded`, another status, or `timed out`. */
const followRun = async (
  client: SwitchyardConnection,
  kind: Kind,
  burst: number,
  index: number,
  deadlineMs: number
): Promise<{ status: string; detail: string }> => {
  const submitted = await client.submitRun(
    kind === "hello"
      ? { pipeline: helloPipeline, file: "hello.yaml", inputs: { name: `burst ${burst} run ${index}` } }
      : kind === "fanout"
        ? { pipeline: fanOutPipeline, file: "soak-fanout.yaml", inputs: { names } }
        : { pipeline: failingPipeline, file: "soak-failing-fanout.yaml", inputs: { names } }
  )
  const iterator = submitted.events[Symbol.asyncIterator]()
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<{ status: string; detail: string }>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: "timed out", detail: `${submitted.runId}: no run.finished in ${deadlineMs} ms` }),
      deadlineMs
    )
  })
  const finished = (async () => {
    for (;;) {
      const next = await iterator.next()
      if (next.done === true) return { status: "events ended", detail: `${submitted.runId}: events ended before run.finished` }
      const event = next.value
      if (event.kind === "run.finished")
        return { status: event.status, detail: `${submitted.runId}: ${event.error?.message?.split("\n")[0] ?? event.status}` }
    }
  })()
  try {
    return await Promise.race([finished, timedOut])
  } finally {
    clearTimeout(timer)
    // Ends the run's event subscription, whether its events ended or not.
    void iterator.return?.()
  }
}

/** Runs one burst: every run of the plan, `concurrency` at a time. */
export const runBurst = async (options: {
  readonly client: SwitchyardConnection
  readonly burst: number
  readonly tasks: number
  readonly concurrency: number
  readonly runDeadlineMs: number
}): Promise<BurstOutcome> => {
  const plan = burstPlan(options.tasks)
  // Fan-out runs spread through the burst rather than bunched at one end.
  const kinds: Array<Kind> = Array.from({ length: plan.helloRuns }, () => "hello" as const)
  const spread = (kind: Kind, count: number) => {
    const base = kinds.length
    for (let index = 0; index < count; index++) kinds.splice(Math.floor(((index + 0.5) * base) / count) + index, 0, kind)
  }
  spread("fanout", plan.fanOutRuns)
  spread("failing", plan.failingRuns)
  const failures = new Map<string, { count: number; example: string }>()
  let succeeded = 0
  let failedAsPlanned = 0
  let next = 0
  const started = performance.now()
  const worker = async () => {
    while (next < kinds.length) {
      const index = next++
      const kind = kinds[index]!
      const outcome = await followRun(options.client, kind, options.burst, index, options.runDeadlineMs).catch((error: unknown) => ({
        status: "submit failed",
        detail: String(error).split("\n")[0]!
      }))
      if (kind === "failing" && outcome.status === "failed") failedAsPlanned++
      else if (kind !== "failing" && outcome.status === "succeeded") succeeded++
      else {
        const seen = failures.get(outcome.status)
        if (seen === undefined) failures.set(outcome.status, { count: 1, example: outcome.detail })
        else seen.count++
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(options.concurrency, kinds.length) }, worker))
  return { runs: kinds.length, tasks: plan.tasks, succeeded, failedAsPlanned, failures, seconds: (performance.now() - started) / 1000 }
}
