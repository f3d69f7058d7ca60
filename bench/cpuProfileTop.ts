/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and prints where the time went:
 * the functions with the most self time (with file:line, 1-based), and self
 * time per file. Used to find the hot spots of the embedded run path:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/dispatch.ts --only embedded
 *   node bench/cpuProfileTop.ts /tmp/prof/*.cpuprofile [--top 30]
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
  options: { top: { type: "string", default: "30" } }
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

for (const file of positionals) {
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
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame
    const name = `${frame.functionName || "(anonymous)"}  ${where(frame)}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
    byFile.set(fileOf(frame), (byFile.get(fileOf(frame)) ?? 0) + micros)
  }
  const show = (title: string, entries: Map<string, number>) => {
    console.log(`\n${title}`)
    for (const [name, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${pad(`${((micros / total) * 100).toFixed(1)}%`, 7)} ${pad(`${(micros / 1000).toFixed(0)} ms`, 9)} ${name}`)
    }
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
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s profiled`)
  show("self time by function", byFunction)
  show("self time by file", byFile)
  show("inclusive time of project functions (synchronous part)", inclusive)
}
