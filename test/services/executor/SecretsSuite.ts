/**
 * Secrets end to end: a task carries only `{{ secrets.KEY }}`, the executor
 * resolves it from its own source just before the call, and a canary value
 * shows up in none of the bus messages, the run state in KV, the results or
 * the errors. Run once per bus adapter.
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import type { Scope } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import { defineStage, StageError } from "../../../sdk/defineStage.ts"
import { collect } from "../../support/collect.ts"
import { makeStack } from "../scheduler/harness.ts"

const common = {
  version: "1.0.0",
  description: "secret probe",
  plugin: "probe",
  count: "none",
  capabilities: { secrets: ["TOKEN"] }
} as const

const echo = defineStage({
  ...common,
  type: "probe.secret-echo",
  stateKey: "echoed",
  output: "set",
  inputs: Schema.Struct({ token: Schema.String }),
  outputs: Schema.Struct({ raw: Schema.String, base64: Schema.String, sentence: Schema.String }),
  run: ({ token }) => ({ raw: token, base64: Buffer.from(token).toString("base64"), sentence: `the token is ${token}.` })
})

const leak = defineStage({
  ...common,
  type: "probe.secret-leak",
  stateKey: null,
  output: "none",
  inputs: Schema.Struct({ token: Schema.String }),
  outputs: Schema.Null,
  run: ({ token }) => Effect.fail(new StageError({ message: `could not log in with ${JSON.stringify(token)}`, retryable: false }))
})

const undeclared = defineStage({
  ...common,
  capabilities: { secrets: [] },
  type: "probe.secret-undeclared",
  stateKey: null,
  output: "none",
  inputs: Schema.Struct({ token: Schema.String }),
  outputs: Schema.Null,
  run: () => null
})

export const secretsSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>) =>
  describe(`secrets over ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(Layer.orDie(makeBus())))

    it.live("resolves a secret only in the executor and leaves no trace of it on the bus, in KV, in results or errors", () =>
      run(
        Effect.gen(function* () {
          const canary = `canary-${randomUUID()}\nsecond-line-${randomUUID()}`
          const stack = yield* makeStack("secret")
          const everything = yield* collect("every message", yield* stack.bus.subscribe(`${stack.names.prefix}.>`))
          yield* stack.registry
          yield* stack.executor({ pool: "probe", definitions: [echo, leak, undeclared], secrets: { TOKEN: canary } })
          const scheduler = yield* stack.scheduler()
          yield* stack.registered(["probe.secret-echo", "probe.secret-leak", "probe.secret-undeclared"])

          const ok = yield* stack.submit(
            "name: s\nstages:\n  - { name: echo, type: probe.secret-echo, inputs: { token: '{{ secrets.TOKEN }}' } }\n"
          )
          const okRun = yield* stack.finished(ok.runId!)
          expect(okRun.finished.status).toBe("succeeded")
          expect(okRun.finished.state).toEqual({
            echoed: { raw: "[redacted]", base64: "[redacted]", sentence: "the token is [redacted]." }
          })

          const failing = yield* stack.submit(
            "name: f\nstages:\n  - { name: leak, type: probe.secret-leak, inputs: { token: '{{ secrets.TOKEN }}' } }\n"
          )
          const failedRun = yield* stack.finished(failing.runId!)
          expect(failedRun.finished.status).toBe("failed")
          expect(failedRun.finished.error?.message).toContain("could not log in with")
          expect(failedRun.finished.error?.message).toContain("[redacted]")

          const refused = yield* stack.submit(
            "name: u\nstages:\n  - { name: u, type: probe.secret-undeclared, inputs: { token: '{{ secrets.TOKEN }}' } }\n"
          )
          expect(refused.issues.map((issue) => issue.message)).toEqual([
            `{{ secrets.TOKEN }}: stage type "probe.secret-undeclared" does not declare the secret "TOKEN" (declared: none)`
          ])

          const messages = yield* everything.items
          expect(messages.length).toBeGreaterThan(10)
          const forms = [canary, ...canary.split("\n"), Buffer.from(canary).toString("base64"), JSON.stringify(canary).slice(1, -1)]
          const seen = messages.map(
            (message) => `${message.subject} ${JSON.stringify(message.headers)} ${new TextDecoder().decode(message.data)}`
          )
          for (const form of forms) expect(seen.filter((text) => text.includes(form))).toEqual([])
          expect(seen.some((text) => text.includes("{{ secrets.TOKEN }}"))).toBe(true)
          for (const runId of [ok.runId!, failing.runId!]) {
            const stored = yield* scheduler.service.get(runId)
            const text = JSON.stringify(Option.getOrThrow(stored))
            for (const form of forms) expect(text.includes(form)).toBe(false)
          }
        })
      )
    )
  })
