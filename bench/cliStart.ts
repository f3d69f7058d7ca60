/**
 * The CLI start benchmark (`npm run bench:cli`): how long the built
 * `switchyard` takes to print its version, its help and a command's help,
 * next to the floor of any Node process (`node -e 0`) and of one that only
 * imports `effect`. Each command is spawned from a directory outside the
 * repository, as an installed bin would be, in rounds that take every
 * command in turn so a burst of load on a shared machine hits all rows
 * alike; then each runs once more under a module hook
 * (`test/support/loadedModulesHook.ts`) to count what it loaded, by package.
 * It builds nothing: it runs `services/bin/switchyard.js` over whatever
 * `services/dist` holds (`npm run build` first), and never fails on a time.
 *
 * Options: `--runs <n>` timed runs of each command (default 15).
 */
import { spawn } from "node:child_process"
import { existsSync, statSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const { values } = parseArgs({ options: { runs: { type: "string", default: "15" } } })
const runs = Math.max(1, Number.parseInt(values.runs, 10) || 15)

const repoRoot = fileURLToPath(new URL("../", import.meta.url))
const bin = fileURLToPath(new URL("../services/bin/switchyard.js", import.meta.url))
const builtMain = fileURLToPath(new URL("../services/dist/cli/main.js", import.meta.url))
const sourceMain = fileURLToPath(new URL("../services/cli/main.ts", import.meta.url))
const hook = new URL("../test/support/loadedModulesHook.ts", import.meta.url).href
// From outside the repository `effect` does not resolve by name; import the file the runtime would.
const effectUrl = import.meta.resolve("effect")
const marker = "loaded modules: "

interface Row {
  readonly name: string
  readonly args: ReadonlyArray<string>
  readonly cli: boolean
}

const rows: ReadonlyArray<Row> = [
  { name: "node -e 0", args: ["-e", "0"], cli: false },
  { name: "node -e 'import(\"effect\")'", args: ["-e", `import(${JSON.stringify(effectUrl)})`], cli: false },
  { name: "switchyard --version", args: [bin, "--version"], cli: true },
  { name: "switchyard --help", args: [bin, "--help"], cli: true },
  { name: "switchyard stages --help", args: [bin, "stages", "--help"], cli: true }
]

/** Spawns node with `args` in a directory outside the repository; resolves with the wall time (ms) and stderr. */
const spawnTimed = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ readonly ms: number; readonly stderr: string }>((resolve, reject) => {
    const started = performance.now()
    let stderr = ""
    const child = spawn(process.execPath, args, { cwd: tmpdir(), env, stdio: ["ignore", "ignore", "pipe"] })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code) =>
      code === 0
        ? resolve({ ms: performance.now() - started, stderr })
        : reject(new Error(`node ${args.join(" ")} exited ${code}:\n${stderr}`))
    )
  })

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!

// The package a module belongs to: its node_modules package, `switchyard` for the workspace's own files, `node:` for built-ins.
const packageOf = (url: string): string => {
  if (url.startsWith("node:")) return "node:"
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (inModules !== null) return inModules[1]!
  return url.startsWith("file:") && fileURLToPath(url).startsWith(repoRoot) ? "switchyard" : "other"
}

/** Runs the command once under the module hook; its modules by package (Node built-ins left out). */
const modulesOf = async (row: Row) => {
  const env = { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${hook}`].filter(Boolean).join(" ") }
  const { stderr } = await spawnTimed(row.args, env)
  const line = stderr.split("\n").find((candidate) => candidate.startsWith(marker))
  const urls = line === undefined ? [] : (JSON.parse(line.slice(marker.length)) as ReadonlyArray<string>)
  const byPackage = new Map<string, number>()
  for (const url of urls) {
    const name = packageOf(url)
    if (name !== "node:") byPackage.set(name, (byPackage.get(name) ?? 0) + 1)
  }
  return byPackage
}

const table = (header: ReadonlyArray<string>, body: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => (cells[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...body.map(line)].join("\n")
}

if (!existsSync(builtMain)) {
  process.stderr.write(`${builtMain} is missing: run \`npm run build\` first (this benchmark builds nothing)\n`)
  process.exit(1)
}
if (statSync(sourceMain).mtimeMs > statSync(builtMain).mtimeMs)
  process.stderr.write(`warning: ${sourceMain} is newer than its build; \`npm run build\` measures the current code\n`)

const loadBefore = loadavg()
process.stderr.write(`warm-up ...\n`)
for (const row of rows) await spawnTimed(row.args)
const samples = new Map<string, Array<number>>(rows.map((row) => [row.name, []]))
for (let round = 1; round <= runs; round++) {
  process.stderr.write(`round ${round}/${runs} ...\n`)
  for (const row of rows) samples.get(row.name)!.push((await spawnTimed(row.args)).ms)
}
const loadAfter = loadavg()
process.stderr.write(`module counts ...\n`)
const modules = new Map<string, Map<string, number>>()
for (const row of rows) modules.set(row.name, await modulesOf(row))

const columns = [
  "effect",
  "switchyard",
  "@effect/platform-node",
  "@effect/platform-node-shared",
  "@nats-io/nats-core",
  "yaml",
  "ajv"
] as const
const count = (byPackage: Map<string, number>, name: string) => byPackage.get(name) ?? 0
const total = (byPackage: Map<string, number>) => [...byPackage.values()].reduce((sum, n) => sum + n, 0)

const loads = (values: ReadonlyArray<number>) => values.map((value) => value.toFixed(2)).join(" ")
process.stdout.write(
  `CLI start: ${runs} timed runs per command after one warm-up, from ${tmpdir()}; Node ${process.versions.node}, ${cpus().length} cores; load average ${loads(loadBefore)} before, ${loads(loadAfter)} after\n\n`
)
process.stdout.write(
  `${table(
    ["command", "median", "p90", "modules", ...columns, "other"],
    rows.map((row) => {
      const sorted = [...samples.get(row.name)!].sort((a, b) => a - b)
      const byPackage = modules.get(row.name)!
      const listed = columns.reduce((sum, name) => sum + count(byPackage, name), 0)
      return [
        row.name,
        `${percentile(sorted, 0.5).toFixed(0)} ms`,
        `${percentile(sorted, 0.9).toFixed(0)} ms`,
        String(total(byPackage)),
        ...columns.map((name) => String(count(byPackage, name))),
        String(total(byPackage) - listed)
      ]
    })
  )}\n\n`
)
process.stdout.write(
  `${table(
    ["target", "median", "goal", "verdict"],
    rows
      .filter((row) => row.cli)
      .map((row) => {
        const median = percentile(
          [...samples.get(row.name)!].sort((a, b) => a - b),
          0.5
        )
        return [row.name, `${median.toFixed(0)} ms`, "< 500 ms", median < 500 ? "MET" : "NOT MET"]
      })
  )}\n`
)
