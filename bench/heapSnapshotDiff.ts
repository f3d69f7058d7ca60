/**
 * Compares two V8 heap snapshots of one process (as `bench:soak --snapshots`
 * writes them after two bursts) and prints what grew between them: objects
 * grouped by node type and constructor name, with their count and shallow
 * size in each snapshot and the difference, largest growth first. What
 * grows with the number of runs or tasks shows up as a count that rises
 * by about as many between the two snapshots.
 *
 *   npm run bench:soak -- --gc --snapshots /tmp/soak --snapshot-after 3,8
 *   node bench/heapSnapshotDiff.ts /tmp/soak/scheduler-burst3.heapsnapshot /tmp/soak/scheduler-burst8.heapsnapshot [--top 30]
 */
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: ReadonlyArray<string>
      readonly node_types: ReadonlyArray<ReadonlyArray<string> | string>
    }
  }
  readonly nodes: ReadonlyArray<number>
  readonly strings: ReadonlyArray<string>
}

interface Group {
  count: number
  size: number
}

/** Count and shallow size per `type name` of every node of the snapshot. */
const groups = (file: string): Map<string, Group> => {
  const data = JSON.parse(readFileSync(file, "utf8")) as Snapshot
  const fields = data.snapshot.meta.node_fields
  const types = data.snapshot.meta.node_types[0] as ReadonlyArray<string>
  const typeAt = fields.indexOf("type")
  const nameAt = fields.indexOf("name")
  const sizeAt = fields.indexOf("self_size")
  const result = new Map<string, Group>()
  for (let index = 0; index < data.nodes.length; index += fields.length) {
    const type = types[data.nodes[index + typeAt]!]!
    const rawName = data.strings[data.nodes[index + nameAt]!]!
    // Strings and code are grouped by type alone: their names are their contents.
    const name = type === "object" || type === "closure" || type === "native" ? rawName.slice(0, 60) : ""
    const key = name === "" ? `(${type})` : `${type} ${name}`
    const group = result.get(key) ?? { count: 0, size: 0 }
    group.count++
    group.size += data.nodes[index + sizeAt]!
    result.set(key, group)
  }
  return result
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "30" } } })
if (positionals.length !== 2) {
  process.stderr.write("usage: node bench/heapSnapshotDiff.ts <before.heapsnapshot> <after.heapsnapshot> [--top 30]\n")
  process.exit(2)
}
const before = groups(positionals[0]!)
const after = groups(positionals[1]!)
const rows = [...new Set([...before.keys(), ...after.keys()])].map((key) => {
  const from = before.get(key) ?? { count: 0, size: 0 }
  const to = after.get(key) ?? { count: 0, size: 0 }
  return { key, from, to, grew: to.size - from.size }
})
rows.sort((a, b) => b.grew - a.grew)
const total = (map: Map<string, Group>) => [...map.values()].reduce((sum, group) => sum + group.size, 0)
const kb = (bytes: number) => (bytes / 1024).toFixed(0)
console.log(`shallow size ${kb(total(before))} KB → ${kb(total(after))} KB`)
console.log(["grew KB", "count before", "count after", "KB before", "KB after", "node"].join("\t"))
for (const row of rows.slice(0, Number(values.top))) {
  console.log([kb(row.grew), row.from.count, row.to.count, kb(row.from.size), kb(row.to.size), row.key].join("\t"))
}
