/**
 * Secrets end to end: a task carries only `{{ secrets.KEY }}`, the executor
 * resolves it from its own source just before the call, and a canary value
 * shows up in none of the bus messages, the run state in KV, the logs (a
 * real Effect logger writing to an array), the results, the errors or the
 * spans (a real Effect tracer collecting every span), even though stages
 * return it, fail with it, log it, annotate their logs and spans with it,
 * name a span after it, or hand it to a plugin process that logs it on
 * stderr. Run once per bus adapter.
 */
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Logger, Option, References, Schema, Tracer } from "effect"
import type { Scope } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import { runInProcess } from "../../../services/runtimes/index.ts"
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

/** A structured error whose fields hold the secret too. */
class LoginRefusedError extends Schema.TaggedError<LoginRefusedError>()("LoginRefusedError", {
  account: Schema.String,
  credential: Schema.String,
  message: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
}

const leak = defineStage({
  ...common,
  type: "probe.secret-leak",
  stateKey: null,
  output: "none",
  inputs: Schema.Struct({ token: Schema.String }),
  outputs: Schema.Null,
  run: ({ token }) =>
    Effect.fail(new LoginRefusedError({ account: "ops", credential: token, message: `could not log in with ${JSON.stringify(token)}` }))
})

const chatty = defineStage({
  ...common,
  type: "probe.secret-chatty",
  stateKey: null,
  output: "none",
  inputs: Schema.Struct({ token: Schema.String }),
  outputs: Schema.Null,
  run: ({ token }) =>
    Effect.gen(function* () {
      yield* Effect.annotateCurrentSpan("token", token)
      yield* Effect.logInfo(`logging in with ${token}`).pipe(Effect.annotateLogs({ token, nested: { lines: token.split("\n") } }))
      yield* Effect.logWarning("login retried", new Error(`refused ${token}`))
      yield* Effect.succeed(null).pipe(Effect.withSpan(`call ${token}`, { attributes: { header: `Bearer ${token}` } }))
      yield* Effect.fail(new Error(`inner ${token}`)).pipe(Effect.withSpan("inner failure"), Effect.ignore)
      return null
    })
})

const fixturePlugin = fileURLToPath(new URL("../runtimes/fixtures/plugin.ts", import.meta.url))

/** Hands the secret to a plugin process, which logs it on stderr and returns it. */
const viaProcess = defineStage({
  ...common,
  type: "probe.secret-process",
  stateKey: "processed",
  output: "set",
  inputs: Schema.Struct({ token: Schema.String }),
  outputs: Schema.Unknown,
  run: ({ token }, ctx) =>
    runInProcess({
      entry: fixturePlugin,
      env: [],
      action: "fixture.greet",
      input: { name: token },
      taskId: ctx.taskId,
      runId: ctx.runId,
      attempt: ctx.attempt,
      vars: {},
      secrets: {},
      timeout: "20 seconds"
    }).pipe(Effect.map((outcome) => (outcome.status === "succeeded" ? outcome.output : outcome.error.message)))
})

/** Reads the declared secret from its context, not from its inputs. */
const fromContext = defineStage({
  ...common,
  type: "probe.secret-context",
  stateKey: "context",
  output: "set",
  inputs: Schema.Struct({}),
  outputs: Schema.Struct({ length: Schema.Number, raw: Schema.String }),
  run: (_, ctx) => ({ length: ctx.secrets?.TOKEN?.length ?? -1, raw: ctx.secrets?.TOKEN ?? "none" })
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

/** Every log record as one line of text: its JSON rendering plus the message, annotations and cause written out. */
const makeLogCapture = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => {
    const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
    const message = Array.isArray(options.message) ? options.message : [options.message]
    const parts = message.map((part) => (part instanceof Error ? `${part.name}: ${part.message}` : JSON.stringify(part)))
    lines.push(`${Logger.formatJson.log(options)} ${parts.join(" ")} ${JSON.stringify(annotations)} ${Cause.pretty(options.cause)}`)
  })
  return { lines, logger }
}

/** Every span started, collected from the native tracer, and a text rendering of one. */
const makeSpanCapture = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = Tracer.nativeTracer.span(options)
      spans.push(span)
      return span
    }
  })
  const render = (span: Tracer.Span): string => {
    const events = (span as Tracer.Span & { readonly events?: ReadonlyArray<unknown> }).events ?? []
    const status = span.status
    const exit =
      status._tag === "Started"
        ? "started"
        : Exit.isSuccess(status.exit)
          ? JSON.stringify(status.exit.value)
          : Cause.pretty(status.exit.cause)
    return `${span.name} ${JSON.stringify([...span.attributes])} ${JSON.stringify(events, (_, value: unknown) =>
      typeof value === "bigint" ? String(value) : value
    )} ${exit}`
  }
  return { spans, tracer, render }
}

export const secretsSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>) =>
  describe(`secrets over ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(Layer.orDie(makeBus())))

    it.live("resolves a secret only in the executor and leaves no trace of it on the bus, in KV, logs, results, errors or spans", () => {
      const logs = makeLogCapture()
      const traces = makeSpanCapture()
      return run(
        Effect.gen(function* () {
          const canary = `canary-${randomUUID()}\nsecond-line-${randomUUID()}`
          const stack = yield* makeStack("secret")
          const everything = yield* collect("every message", yield* stack.bus.subscribe(`${stack.names.prefix}.>`))
          yield* stack.registry
          yield* stack.executor({ pool: "probe", definitions: [echo, leak, chatty, viaProcess, undeclared], secrets: { TOKEN: canary } })
          const scheduler = yield* stack.scheduler()
          yield* stack.registered([
            "probe.secret-echo",
            "probe.secret-leak",
            "probe.secret-chatty",
            "probe.secret-process",
            "probe.secret-undeclared"
          ])

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
          // The error's structured fields travel too, masked like its message.
          expect(failedRun.finished.error?.fields).toEqual({ account: "ops", credential: "[redacted]" })

          const talkative = yield* stack.submit(
            "name: c\nstages:\n  - { name: chat, type: probe.secret-chatty, inputs: { token: '{{ secrets.TOKEN }}' } }\n"
          )
          expect((yield* stack.finished(talkative.runId!)).finished.status).toBe("succeeded")

          const processed = yield* stack.submit(
            "name: p\nstages:\n  - { name: proc, type: probe.secret-process, inputs: { token: '{{ secrets.TOKEN }}' } }\n"
          )
          const processedRun = (yield* stack.finished(processed.runId!, "30 seconds")).finished
          expect(processedRun.status).toBe("succeeded")
          expect((processedRun.state as { processed: { greeting: string } }).processed.greeting).toBe("hello [redacted]")

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
          for (const runId of [ok.runId!, failing.runId!, talkative.runId!, processed.runId!]) {
            const stored = yield* scheduler.service.get(runId)
            const text = JSON.stringify(Option.getOrThrow(stored))
            for (const form of forms) expect(text.includes(form)).toBe(false)
          }

          // The stages did log and annotate spans with the secret: masked, not dropped.
          const logged = logs.lines.filter(
            (line) => line.includes("logging in with") || line.includes("login retried") || line.includes(`"greeting"`)
          )
          // Two lines logged by the inline stage, one forwarded from the plugin process's stderr.
          expect(logged.length).toBe(3)
          expect(logged.every((line) => line.includes("[redacted]"))).toBe(true)
          for (const form of forms) expect(logs.lines.filter((line) => line.includes(form))).toEqual([])

          const rendered = traces.spans.map(traces.render)
          const stageSpans = traces.spans.filter((span) => span.name === "Executor.runStage")
          expect(stageSpans.length).toBe(4)
          // The stage annotates its own span (`stage <type>`, opened inside the masked one).
          expect(traces.spans.some((span) => span.name.startsWith("stage ") && span.attributes.get("token") === "[redacted]")).toBe(true)
          expect(
            traces.spans.some((span) => span.name === "call [redacted]" && span.attributes.get("header") === "Bearer [redacted]")
          ).toBe(true)
          expect(rendered.filter((text) => text.includes("inner [redacted]")).length).toBeGreaterThan(0)
          expect(rendered.filter((text) => text.includes("could not log in with") && text.includes("[redacted]")).length).toBeGreaterThan(0)
          for (const form of forms) expect(rendered.filter((text) => text.includes(form))).toEqual([])
        }).pipe(Effect.provide(Logger.layer([logs.logger])), Effect.withTracer(traces.tracer))
      )
    })

    it.live("renders only the pipeline's own templates: a secret reference in a run input or a var stays literal", () =>
      run(
        Effect.gen(function* () {
          const canary = `canary-${randomUUID()}`
          const stack = yield* makeStack("secretinject")
          yield* stack.registry
          yield* stack.executor({ pool: "probe", definitions: [echo], secrets: { TOKEN: canary } })
          yield* stack.scheduler()
          yield* stack.registered(["probe.secret-echo"])
          const viaInput = yield* stack.submit(
            "name: i\nstages:\n  - { name: echo, type: probe.secret-echo, inputs: { token: '{{ inputs.doc }}' } }\n",
            { doc: "{{ secrets.TOKEN }}" }
          )
          const inputRun = (yield* stack.finished(viaInput.runId!)).finished
          expect(inputRun.status).toBe("succeeded")
          expect((inputRun.state as { echoed: { raw: string } }).echoed.raw).toBe("{{ secrets.TOKEN }}")

          // A var's value is data as well, and so is an escaped reference of the pipeline's text.
          const viaVar = yield* stack.submit(
            "name: v\nvars: { SNEAKY: '{{ secrets.TOKEN }}' }\nstages:\n  - { name: echo, type: probe.secret-echo, inputs: { token: 'A {{ vars.SNEAKY }} B \\{{ secrets.TOKEN }} C {{ secrets.TOKEN }}' } }\n"
          )
          const varRun = (yield* stack.finished(viaVar.runId!)).finished
          expect(varRun.status).toBe("succeeded")
          expect((varRun.state as { echoed: { raw: string } }).echoed.raw).toBe("A {{ secrets.TOKEN }} B {{ secrets.TOKEN }} C [redacted]")
        })
      )
    )

    it.live("hands the secrets a stage type declares to the stage as ctx.secrets, masked in what it returns", () =>
      run(
        Effect.gen(function* () {
          const canary = `canary-${randomUUID()}`
          const stack = yield* makeStack("secretctx")
          yield* stack.registry
          yield* stack.executor({ pool: "probe", definitions: [fromContext], secrets: { TOKEN: canary } })
          yield* stack.scheduler()
          yield* stack.registered(["probe.secret-context"])
          const reply = yield* stack.submit("name: c\nstages:\n  - { name: c, type: probe.secret-context }\n")
          const { finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ context: { length: canary.length, raw: "[redacted]" } })
        })
      )
    )
  })
