import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { inject } from "vitest"
import { runPdfProcessor } from "../../../examples/services/pdf-processor/index.ts"
import { eventually } from "../../support/eventually.ts"
import { uniquePrefix } from "../../support/unique.ts"

describe("the pdf-processor example service", () => {
  it.live("stops cleanly when its signal aborts (as on SIGTERM), closing its connection once", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const controller = new AbortController()
      const stopped = runPdfProcessor({
        natsUrl: inject("natsUrl"),
        prefix: uniquePrefix("pdfstop"),
        signal: controller.signal,
        log: (line) => void lines.push(line)
      }).then(
        () => "resolved",
        (error: unknown) => `rejected: ${error instanceof Error ? error.message : String(error)}`
      )
      yield* eventually("the service watches runs", () => lines.includes("pdf-processor: watching runs"))
      controller.abort()
      assert.strictEqual(yield* Effect.promise(() => stopped).pipe(Effect.timeout("10 seconds")), "resolved")
    })
  )
})
