/**
 * Printing the telemetry comparison: the configurations side by side
 * (median of the rounds with their range, and each round against the
 * baseline's of the same round), what each process installed and exported,
 * and the targets: tracing off within 3 % of the baseline, and what tracing
 * on costs, beside what the control (the baseline against itself) shows of
 * the noise.
 */
import { median, ms, rate, spread, table, type Target } from "./report.ts"
import type { ConfigurationKey, ConfigurationResult, MeasuredRound, Probe, TelemetryPlan, TelemetryResult } from "./telemetryOverhead.ts"

/** Runs per second of a round's concurrent part, the span flush after it included. */
export const roundThroughput = (round: MeasuredRound): number => round.concurrent.total / (round.concurrent.seconds + round.flushMs / 1000)

const seqP50 = (round: MeasuredRound) => round.sequential.latency.p50

/** Each round's `figure` of `subject` over the mean of the baselines' in the same round. */
const paired = (
  subject: ConfigurationResult,
  baselines: ReadonlyArray<ConfigurationResult>,
  figure: (round: MeasuredRound) => number
): Array<number> =>
  subject.rounds.flatMap((round, r) => {
    const bases = baselines.flatMap((baseline) => (baseline.rounds[r] === undefined ? [] : [figure(baseline.rounds[r])]))
    return bases.length === 0 ? [] : [figure(round) / (bases.reduce((sum, value) => sum + value, 0) / bases.length)]
  })

const percent = (ratio: number) => `${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(1)}`

/** CPU milliseconds of the configuration's process per run, over a round's concurrent part. */
export const cpuPerRun = (round: MeasuredRound): number => round.concurrentCpuMs / Math.max(1, round.concurrentRuns)

/** The comparison table. */
export const telemetryTable = (result: TelemetryResult): string => {
  const baseline = result.configurations.find((configuration) => configuration.key === "baseline")
  const against = (configuration: ConfigurationResult, i: number, figure: (round: MeasuredRound) => number) =>
    configuration === baseline || baseline === undefined ? "-" : `${spread(paired(configuration, [baseline], figure), percent)} %`
  return table(
    ["configuration", "seq p50", "vs 1", "ops/s @load", "vs 1", "CPU/run @load", "vs 1"],
    result.configurations.map((configuration, i) => [
      configuration.label,
      `${spread(configuration.rounds.map(seqP50), (value) => value.toFixed(2))} ms`,
      against(configuration, i, seqP50),
      spread(configuration.rounds.map(roundThroughput), rate),
      against(configuration, i, roundThroughput),
      `${spread(configuration.rounds.map(cpuPerRun), (value) => value.toFixed(2))} ms`,
      against(configuration, i, cpuPerRun)
    ])
  )
}

const probe = (name: string, answer: Probe | undefined) =>
  answer === undefined ? `${name} not served` : `${name} ${answer.status} (${rate(answer.bytes)} bytes)`

/** What each process installed, served and exported, as evidence that each configuration is what its label says. */
export const telemetryEvidence = (result: TelemetryResult): string => {
  const lines = result.configurations.map((configuration) => {
    const { evidence, exported } = configuration
    const flush = configuration.rounds.map((round) => round.flushMs)
    return [
      `  ${configuration.label}`,
      `      OTEL_EXPORTER_OTLP_ENDPOINT ${evidence.endpoint ?? "unset"}; traces ${evidence.tracesFromEnv ? "on" : "off"}; ` +
        `client's tracer ${evidence.clientTracer}; global tracer provider ${evidence.globalTracerProvider}`,
      `      scheduler ${probe("/metrics", configuration.metrics)}, ${probe("/readyz", configuration.readyz)}; ` +
        `span flush after a round ${flush.length === 0 ? "-" : `${ms(median(flush))} (median)`}`,
      `      the sink got ${rate(exported.traceRequests)} trace posts with ${rate(exported.spans)} spans ` +
        `(${(exported.spans / Math.max(1, configuration.runs)).toFixed(1)} per run over ${rate(configuration.runs)} runs), ` +
        `${rate(exported.metricRequests)} metric posts, ${rate(exported.bytes)} bytes`
    ].join("\n")
  })
  const other = result.unattributed
  return [
    "what each process installed (as its own Config and OpenTelemetry's global API see it), served and exported:",
    ...lines,
    `  requests to the sink under no configuration's endpoint: ${rate(other.traceRequests + other.metricRequests + other.otherRequests)}`
  ].join("\n")
}

/** The plan in a sentence. */
export const telemetryPlanLine = (plan: TelemetryPlan, inFlight: number): string =>
  `${plan.rounds} rounds, in each every configuration runs ${plan.round.sequential.samples} runs one at a time (after ${plan.round.sequential.warmup}) ` +
  `then ${rate(plan.round.concurrent.total)} with ${inFlight} in flight (after ${plan.round.concurrent.warmup}); order rotated every round. ` +
  `Figures: median of the rounds [lowest, highest]; "vs 1": each round against the baseline's in the same round.`

/** Tracing off against the baseline (the 3 % target), and tracing on against it (reported, no goal). */
export const telemetryTargets = (result: TelemetryResult | string | undefined): ReadonlyArray<Target> => {
  const configurations = typeof result === "object" ? result.configurations : []
  const find = (key: ConfigurationKey) => configurations.find((configuration) => configuration.key === key)
  const [baseline, control, off, on] = [find("baseline"), find("control"), find("off"), find("on")]
  const measured = (
    subject: ConfigurationResult | undefined,
    baselines: ReadonlyArray<ConfigurationResult | undefined>,
    figure: (round: MeasuredRound) => number
  ) => {
    const present = baselines.filter((baseline) => baseline !== undefined)
    return subject === undefined || present.length === 0 || subject.rounds.length === 0
      ? undefined
      : median(paired(subject, present, figure))
  }
  const target = (name: string, ratio: number | undefined, goal: string, met: ((ratio: number) => boolean) | undefined): Target =>
    ratio === undefined
      ? { name, measured: "-", goal, met: undefined }
      : met === undefined
        ? { name, measured: `${(ratio * 100).toFixed(1)} %`, goal, met: true, verdict: "-" }
        : { name, measured: `${(ratio * 100).toFixed(1)} %`, goal, met: met(ratio) }
  const reported = (name: string, ratio: number | undefined) => target(name, ratio, "(reported)", undefined)
  // A miss no larger than the control's own distance from the baseline is a miss noise alone produces in this run.
  const judged = (name: string, figure: (round: MeasuredRound) => number, goal: string, met: (ratio: number) => boolean): Target => {
    const ratio = measured(off, [baseline], figure)
    const judgement = target(name, ratio, goal, met)
    const noise = measured(control, [baseline], figure)
    return judgement.met === false && ratio !== undefined && noise !== undefined && Math.abs(noise - 1) >= Math.abs(ratio - 1)
      ? { ...judgement, verdict: `NOT MET (control 1' off by ${percent(noise)} %: within noise)` }
      : judgement
  }
  const both = [baseline, control]
  return [
    judged("tracing off (2) throughput / baseline (1)", roundThroughput, ">= 97 %", (ratio) => ratio >= 0.97),
    judged("tracing off (2) seq p50 / baseline (1)", seqP50, "<= 103 %", (ratio) => ratio <= 1.03),
    reported("tracing off (2) CPU per run / baseline (1)", measured(off, [baseline], cpuPerRun)),
    reported("tracing off (2) throughput / mean of 1 and 1'", measured(off, both, roundThroughput)),
    reported("tracing off (2) seq p50 / mean of 1 and 1'", measured(off, both, seqP50)),
    reported("tracing off (2) CPU per run / mean of 1 and 1'", measured(off, both, cpuPerRun)),
    reported("tracing on (3) throughput / baseline (1)", measured(on, [baseline], roundThroughput)),
    reported("tracing on (3) seq p50 / baseline (1)", measured(on, [baseline], seqP50)),
    reported("tracing on (3) CPU per run / baseline (1)", measured(on, [baseline], cpuPerRun)),
    reported("noise: control (1') throughput / baseline (1)", measured(control, [baseline], roundThroughput)),
    reported("noise: control (1') seq p50 / baseline (1)", measured(control, [baseline], seqP50)),
    reported("noise: control (1') CPU per run / baseline (1)", measured(control, [baseline], cpuPerRun))
  ]
}
