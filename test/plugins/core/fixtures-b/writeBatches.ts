/**
 * A writer process for the concurrent store test: runs one core stage
 * (`index` or `knowledge-graph`) once per input listed in a JSON file, as an
 * executor replica would run its tasks. It prints `ready`, waits for a line
 * on stdin so that the test can start every writer at the same moment, then
 * prints the outputs as one JSON array and exits 0 (1, with the error on
 * stderr, when a call fails).
 *
 *   node --conditions=@switchyard/source writeBatches.ts index|knowledge-graph inputs.json
 */
import { readFileSync } from "node:fs"
import { createInterface } from "node:readline"
import { Effect } from "effect"
import { index } from "../../../../plugins/core/indexStage.ts"
import { knowledgeGraph } from "../../../../plugins/core/knowledgeGraph.ts"
import { runStage } from "../../../support/stages.ts"

const [stageName, file] = process.argv.slice(2)
const stage = stageName === "index" ? index : stageName === "knowledge-graph" ? knowledgeGraph : undefined
if (stage === undefined || file === undefined) {
  process.stderr.write(`usage: writeBatches.ts index|knowledge-graph <inputs.json>, found ${process.argv.slice(2).join(" ")}\n`)
  process.exit(2)
}
const inputs = JSON.parse(readFileSync(file, "utf8")) as ReadonlyArray<unknown>
const info = { taskId: `${process.pid}.task`, runId: "run", stage: "stage", attempt: 1 }

const program = Effect.gen(function* () {
  process.stdout.write("ready\n")
  yield* Effect.callback<void>((resume) => {
    const lines = createInterface({ input: process.stdin })
    lines.once("line", () => {
      lines.close()
      resume(Effect.void)
    })
  })
  const outputs = yield* Effect.forEach(inputs, (input) => runStage(stage, input, info))
  process.stdout.write(`${JSON.stringify(outputs)}\n`)
})

Effect.runPromiseExit(program).then((exit) => {
  if (exit._tag === "Failure") {
    process.stderr.write(`${String(exit.cause)}\n`)
    process.exitCode = 1
  }
})
