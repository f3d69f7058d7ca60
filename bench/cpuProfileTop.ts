/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and prints where the time went:
 * the functions with the most self time (with file:line, 1-based), and self
 * time per file. Used to find the hot spots of the embedded run path:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/dispatch.ts --only embedded
 *   node bench/cpuProfileTop.ts /tmp/prof/*.cpuprofile [--top 30]
 *
 * With `--base <profile>` it also prints how much longer each profile was
 * busy than that one, and which functions and files the difference went
 * to: for two processes that did the same work under different settings,
 * such as the telemetry configurations of `bench/dispatch.ts --only
 * telemetry --cpu-prof <dir>`.
 */
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "30" }, base: { type: "string" } }
})
const top = Number(values.top)
const root = `file://${process.cwd()}/`

const where = (frame: CallFrame): string => {
  const url = frame.url.startsWith(root) ? frame.url.slice(root.length) : frame.url.replace(/^file:\/\//, "")
  return url === "" ? "(native)" : `${url}:${frame.lineNumber + 1}`
}

const fileOf = (frame: CallFrame): string => {
  const url = frame.url.startsWith(root) ? frame.url.slice(root.length) : frame.url.replace(/^file:\/\//, "")
  return url === "" ? "(native)" : url
}

const pad = (text: string, width: number) => (text.length >= width ? text : text + " ".repeat(width - text.length))

/** A profile's self time by function and by file, its inclusive time of project functions, and how long it was busy. */
const summarize = (file: string) => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfMicros = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const total = profile.endTime - profile.startTime
  const byFunction = new Map<string, number>()
  const byFile = new Map<string, number>()
  let idle = 0
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame
    if (frame.functionName === "(idle)") idle += micros
    const name = `${frame.functionName || "(anonymous)"}  ${where(frame)}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
    byFile.set(fileOf(frame), (byFile.get(fileOf(frame)) ?? 0) + micros)
  }
  // Inclusive time of this project's own functions: each sample counts once for every distinct
  // project frame on its stack (synchronous callees only: fibers resume from the runtime's loop).
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const inclusive = new Map<string, number>()
  for (const [id, micros] of selfMicros) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame
      if (!frame.url.startsWith(root) || frame.url.includes("/node_modules/")) continue
      const name = `${frame.functionName || "(anonymous)"}  ${where(frame)}`
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + micros)
    }
  }
  return { total, busy: total - idle, byFunction, byFile, inclusive }
}

const show = (title: string, entries: Map<string, number>, total: number) => {
  console.log(`\n${title}`)
  for (const [name, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${pad(`${((micros / total) * 100).toFixed(1)}%`, 7)} ${pad(`${(micros / 1000).toFixed(0)} ms`, 9)} ${name}`)
  }
}

/** `entries` minus `base`'s, largest increase first. */
const difference = (entries: Map<string, number>, base: Map<string, number>) =>
  new Map([...new Set([...entries.keys(), ...base.keys()])].map((name) => [name, (entries.get(name) ?? 0) - (base.get(name) ?? 0)]))

const base = values.base === undefined ? undefined : summarize(values.base)

for (const file of positionals) {
  const { busy, byFile, byFunction, inclusive, total } = summarize(file)
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(2)} s busy (not idle)`)
  show("self time by function", byFunction, total)
  show("self time by file", byFile, total)
  show("inclusive time of project functions (synchronous part)", inclusive, total)
  if (base !== undefined) {
    const extra = busy - base.busy
    console.log(
      `\nagainst ${values.base}: ${(base.busy / 1e6).toFixed(2)} s busy there, ${(extra / 1e6).toFixed(2)} s more here ` +
        `(${((extra / base.busy) * 100).toFixed(1)} %); percentages below are of that difference`
    )
    show("self time by function, more than in the base", difference(byFunction, base.byFunction), Math.abs(extra))
    show("self time by file, more than in the base", difference(byFile, base.byFile), Math.abs(extra))
  }
}
