/**
 * The floor as a process of its own, so its wall time from spawn to exit and
 * its peak RSS compare with a `switchyard run`'s:
 * `node corpusFloorChild.ts <pipeline.yaml> key=value...` runs the pipeline's
 * stages directly (`corpusFloor.ts`) and prints its `FloorResult` as one JSON
 * line on stdout; a failure goes to stderr with exit code 1.
 */
import { runFloor } from "./corpusFloor.ts"

const [file, ...pairs] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write("usage: corpusFloorChild.ts <pipeline.yaml> key=value...\n")
  process.exit(2)
}
const inputs = Object.fromEntries(
  pairs.map((pair) => {
    const at = pair.indexOf("=")
    return [pair.slice(0, at), pair.slice(at + 1)] as const
  })
)
try {
  console.log(JSON.stringify(await runFloor(file, inputs)))
} catch (error) {
  process.stderr.write(`floor failed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
}
