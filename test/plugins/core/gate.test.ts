import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { gate } from "../../../plugins/core/gate.ts"
import { Condition, evaluate } from "../../../plugins/core/internal/conditions.ts"

const decode = Schema.decodeUnknownSync(Condition)
const info = (ledger?: Record<string, unknown>) => ({
  taskId: "r.g",
  runId: "r",
  stage: "wait-for-pdf",
  attempt: 1,
  ...(ledger === undefined ? {} : { ledger })
})

describe("ledger conditions", () => {
  it("equals, exists, in and numeric comparisons say what the ledger holds instead", () => {
    const ledger = { ready: false, pages: 3, status: "parsing", review: { by: "ana" } }
    expect(evaluate(decode({ field: "ready", equals: false }), ledger)).toEqual({ met: true, unmet: [] })
    expect(evaluate(decode({ field: "ready", equals: true }), ledger).unmet).toEqual(["ready equals true (found false)"])
    expect(evaluate(decode({ field: "missing", equals: 1 }), ledger).unmet).toEqual(["missing equals 1 (missing)"])
    expect(evaluate(decode({ field: "review.by", exists: true }), ledger).met).toBe(true)
    expect(evaluate(decode({ field: "review.at", exists: false }), ledger).met).toBe(true)
    expect(evaluate(decode({ field: "status", in: ["done", "ok"] }), ledger).unmet).toEqual([`status in ["done","ok"] (found "parsing")`])
    expect(evaluate(decode({ field: "pages", gte: 1, lt: 10 }), ledger).met).toBe(true)
    expect(evaluate(decode({ field: "pages", gt: 3 }), ledger).unmet).toEqual(["pages > 3 (found 3)"])
    expect(evaluate(decode({ field: "status", lte: 3 }), ledger).unmet).toEqual([`status <= 3 (found "parsing")`])
  })

  it("all lists every unmet part; any is met by one and otherwise lists its options", () => {
    const ledger = { a: 1 }
    const all = decode({
      all: [
        { field: "a", equals: 1 },
        { field: "b", exists: true },
        { field: "c", equals: "x" }
      ]
    })
    expect(evaluate(all, ledger).unmet).toEqual(["b exists (missing)", `c equals "x" (missing)`])
    expect(
      evaluate(
        decode({
          any: [
            { field: "b", exists: true },
            { field: "a", gt: 0 }
          ]
        }),
        ledger
      ).met
    ).toBe(true)
    expect(
      evaluate(
        decode({
          any: [
            { field: "b", exists: true },
            { field: "a", gt: 5 }
          ]
        }),
        ledger
      ).unmet
    ).toEqual(["any of: b exists (missing); a > 5 (found 1)"])
  })

  it("refuses a comparison without a bound and a malformed field", () => {
    expect(() => decode({ field: "pages" })).toThrow()
    expect(() => decode({ field: "bad field", equals: 1 })).toThrow(/expected a ledger field/)
  })
})

describe("gate", () => {
  it("has no state key, applies nothing and counts nothing", () => {
    expect(gate.metadata.type).toBe("core/core.gate")
    expect([gate.metadata.stateKey, gate.metadata.output, gate.metadata.count]).toEqual([null, "none", "none"])
  })

  it.effect("passes when the ledger it was given meets every condition", () =>
    Effect.gen(function* () {
      const outcome = yield* gate.execute({ conditions: [{ field: "pdf_ir_ready", equals: true }] }, info({ pdf_ir_ready: true }))
      expect(outcome).toEqual({ _tag: "Done", output: { passed: true } })
    })
  )

  it.effect("answers waiting with the unmet conditions and the GateConditionError it ends with", () =>
    Effect.gen(function* () {
      // Waiting is an outcome, not a failure.
      const outcome = yield* gate.execute(
        {
          conditions: {
            all: [
              { field: "pdf_ir_ready", equals: true },
              { field: "pages", gte: 1 }
            ]
          },
          timeout_ms: 5000
        },
        info()
      )
      expect(outcome._tag).toBe("Waiting")
      const waiting = outcome._tag === "Waiting" ? outcome.waiting : undefined
      expect(waiting?.unmet).toEqual(["pdf_ir_ready equals true (missing)", "pages >= 1 (missing)"])
      expect(waiting?.timeoutMs).toBe(5000)
      expect(waiting?.timeoutError.tag).toBe("GateConditionError")
      expect(waiting?.timeoutError.message).toBe(
        `gate "wait-for-pdf" gave up after 5000 ms; unmet: pdf_ir_ready equals true (missing); pages >= 1 (missing)`
      )
    })
  )
})
