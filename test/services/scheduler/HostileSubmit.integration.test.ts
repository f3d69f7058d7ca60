/**
 * `run.submit` over a real nats-server refuses hostile pipelines and inputs
 * at once with located issues, sent straight to the scheduler (past every
 * check a client makes): alias bombs, deep nesting, forbidden keys in the
 * pipeline, its stage config and the run inputs, a pipeline over the size or
 * stage limit, and a run whose record would not fit one message of the runs
 * bucket. The client refuses a submit larger than the server's max_payload
 * before sending it, naming the limit.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { inject } from "vitest"
import * as Codec from "../../../schemas/Codec.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { RunSubmit, RunSubmitReply } from "../../../schemas/Run.ts"
import { Subjects } from "../../../schemas/Subjects.ts"
import { Bus } from "../../../services/bus/Bus.ts"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { SwitchyardClient } from "../../../services/bus/SwitchyardClient.ts"
import { makeStack } from "./harness.ts"
import { aliasBomb, greetPipeline } from "../../support/hostileInputs.ts"

const greet = greetPipeline
const bomb = aliasBomb(4)

/** A submit's bytes with `inputs` written as given (a JSON text), so keys such as `__proto__` reach the wire. */
const rawSubmit = (text: string, inputsJson: string) => {
  const request = Codec.encode(RunSubmit, WireType.RunSubmit, new RunSubmit({ version: 1, file: "test.yaml", text, inputs: {} }))
  const json = new TextDecoder().decode(request.data).replace(`"inputs":{}`, `"inputs":${inputsJson}`)
  return { data: new TextEncoder().encode(json), headers: request.headers }
}

const decodeReply = Codec.decode(RunSubmitReply, WireType.RunSubmitReply)

const setup = Effect.gen(function* () {
  const stack = yield* makeStack("hostile")
  yield* stack.registry
  yield* stack.executor()
  yield* stack.scheduler({ maxStages: 5 })
  yield* stack.registered(["hello.greet"])
  /** Sends the submit and returns its reply and how long it took. */
  const refused = (text: string, inputsJson = "{}") =>
    Effect.gen(function* () {
      const started = performance.now()
      const { data, headers } = rawSubmit(text, inputsJson)
      const message = yield* stack.bus.request(stack.names.runSubmit, data, { timeout: "10 seconds", headers })
      const reply = yield* decodeReply(message)
      expect(reply.runId).toBeUndefined()
      return { reply, ms: performance.now() - started }
    })
  return { stack, refused }
})

const issueOf = (reply: RunSubmitReply) => reply.issues.map((issue) => `${issue.line}:${issue.column}: ${issue.path}: ${issue.message}`)

describe("run.submit refuses hostile input over a real nats-server", () => {
  it.live("answers an alias bomb with an issue at its first alias", () =>
    Effect.gen(function* () {
      const { refused } = yield* setup
      const { ms, reply } = yield* refused(bomb)
      expect(issueOf(reply)).toEqual([
        "4:10: anchors.b[0]: expected aliases (*name) that expand to at most 100 copies of their anchors, found more"
      ])
      expect(ms).toBeLessThan(10_000)
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )

  it.live("answers a pipeline nested past the depth limit with an issue where it passes it", () =>
    Effect.gen(function* () {
      const { refused } = yield* setup
      const { reply } = yield* refused(`${greet}    config:\n      x: ${"[".repeat(5000)}${"]".repeat(5000)}\n`)
      expect(reply.issues).toHaveLength(1)
      expect(reply.issues[0]!.message).toBe("expected at most 100 levels of nested mappings and lists, found more")
      expect(reply.issues[0]!.line).toBe(10)
      expect(reply.issues[0]!.path).toMatch(/^stages\[0\]\.config\.x(\[0\])+$/)
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )

  it.live("answers __proto__, constructor and prototype keys in the pipeline and its stage config with one issue each", () =>
    Effect.gen(function* () {
      const { refused } = yield* setup
      const { reply } = yield* refused(
        `${greet}    config:\n      __proto__: { polluted: true }\n      list:\n        - constructor: 1\nprototype: 2\n`
      )
      const expected = (key: string) =>
        `expected a key other than "__proto__", "constructor", "prototype" (they name JavaScript object internals), found "${key}"`
      expect(issueOf(reply)).toEqual([
        `10:7: stages[0].config.__proto__: ${expected("__proto__")}`,
        `12:11: stages[0].config.list[0].constructor: ${expected("constructor")}`,
        `13:1: prototype: ${expected("prototype")}`
      ])
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )

  it.live("answers run inputs with a forbidden key at any depth with an issue naming the input", () =>
    Effect.gen(function* () {
      const { refused } = yield* setup
      const { reply } = yield* refused(greet, `{"__proto__":{"polluted":true},"name":{"constructor":1}}`)
      expect(issueOf(reply)).toEqual([
        `3:3: inputs: run input __proto__: expected a key other than "__proto__", "constructor", "prototype" (they name JavaScript object internals), found "__proto__"`,
        `3:3: inputs: run input name.constructor: expected a key other than "__proto__", "constructor", "prototype" (they name JavaScript object internals), found "constructor"`
      ])
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )

  it.live("answers a pipeline with more stages than its setting allows, naming the setting", () =>
    Effect.gen(function* () {
      const { refused } = yield* setup
      const stages = Array.from({ length: 8 }, (_, index) => `  - { name: s${index}, type: hello.greet, inputs: { name: x } }\n`)
      const { reply } = yield* refused(`name: many\nstages:\n${stages.join("")}`)
      expect(issueOf(reply)).toEqual(["8:5: stages[5]: expected at most 5 stages (SWITCHYARD_MAX_STAGES), found 8"])
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )

  it.live("answers a run whose record would not fit one message of the runs bucket, naming the server's limit", () =>
    Effect.gen(function* () {
      const { refused, stack } = yield* setup
      const limit = Option.getOrThrow(yield* stack.bus.maxPayload)
      // The request fits; the record adds the stage type's metadata and the run's bookkeeping to it.
      const name = "x".repeat(limit - greet.length - 600)
      const { reply } = yield* refused(greet, JSON.stringify({ name }))
      expect(reply.issues).toHaveLength(1)
      expect(reply.issues[0]!.message).toMatch(
        new RegExp(
          `^expected a pipeline and inputs whose run record fits in one message of the runs bucket \\(the server's max_payload of ${limit} bytes, 1024 of them kept for headers\\), found a record of \\d+ bytes$`
        )
      )
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )

  it.live("refuses in the client, before sending, a submit larger than the server's max_payload", () =>
    Effect.gen(function* () {
      const { stack } = yield* setup
      const limit = Option.getOrThrow(yield* stack.bus.maxPayload)
      const client = yield* Effect.provide(
        Effect.service(SwitchyardClient),
        SwitchyardClient.layer.pipe(Layer.provide(Layer.mergeAll(Layer.succeed(Bus, stack.bus), Layer.succeed(Subjects, stack.names))))
      )
      const started = performance.now()
      const error = yield* Effect.flip(client.submitRun({ pipeline: greet, inputs: { name: "x".repeat(limit) } }))
      expect(performance.now() - started).toBeLessThan(10_000)
      expect(error._tag).toBe("PipelineInvalidError")
      const message = error._tag === "PipelineInvalidError" ? error.issues[0]!.message : error.message
      expect(message).toMatch(
        new RegExp(
          `^expected a pipeline and inputs that fit in one message: the run.submit request is \\d+ bytes, over the ${limit} bytes the server takes in one message \\(its max_payload\\)$`
        )
      )
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )

  it.live("refuses in the client, before sending, run inputs with a forbidden key", () =>
    Effect.gen(function* () {
      const { stack } = yield* setup
      const client = yield* Effect.provide(
        Effect.service(SwitchyardClient),
        SwitchyardClient.layer.pipe(Layer.provide(Layer.mergeAll(Layer.succeed(Bus, stack.bus), Layer.succeed(Subjects, stack.names))))
      )
      const inputs = Schema.decodeUnknownSync(Schema.fromJsonString(Schema.Record(Schema.String, Schema.Json)))(
        `{"name":{"prototype":{"x":1}}}`
      )
      const error = yield* Effect.flip(client.submitRun({ pipeline: greet, inputs }))
      expect(error._tag).toBe("PipelineInvalidError")
      if (error._tag === "PipelineInvalidError") expect(error.issues.map((issue) => issue.path)).toEqual(["inputs.name.prototype"])
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )
})
