/**
 * Every request/reply endpoint, served by the real registry and scheduler,
 * answers a malformed request promptly with a typed `EndpointError/1` reply
 * naming the subject, the field and what was expected, and keeps serving.
 * The generic client turns that reply back into `MalformedMessageError`.
 * Run once per bus adapter.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import * as Endpoints from "../../../services/bus/Endpoints.ts"
import { decode, encode, encodeJson, MalformedMessageError, TypeHeader } from "../../../schemas/Codec.ts"
import { EndpointErrorType, ServiceUnavailableError } from "../../../schemas/Endpoint.ts"
import {
  LedgerUpdateEndpoint,
  RunCancelEndpoint,
  RunSubmitEndpoint,
  StageDeregister,
  StageHeartbeat,
  StageList,
  StageRegister,
  StageResolve,
  endpoints
} from "../../../schemas/Endpoints.ts"
import { StageListRequest } from "../../../schemas/Registry.ts"
import { RunCancel } from "../../../schemas/Run.ts"
import { makeStack } from "../scheduler/harness.ts"

/** One malformed request per endpoint: its body, and the field its error must name. */
const malformed = [
  { endpoint: StageRegister, body: { version: 1, pool: "p", executorId: "e", runtime: "inline", stages: "all" }, path: "stages" },
  {
    endpoint: StageDeregister,
    body: { version: 1, pool: "p", executorId: "e", plugin: "x", types: "all", reason: "shutdown" },
    path: "types"
  },
  { endpoint: StageHeartbeat, body: { version: 1, pool: "p", executorId: "e", slots: "many", inFlight: 0 }, path: "slots" },
  { endpoint: StageList, body: { version: 2 }, path: "version" },
  { endpoint: StageResolve, body: { version: 1, types: ["ok", 7] }, path: "types[1]" },
  { endpoint: RunSubmitEndpoint, body: { version: 1, file: "p.yaml", text: 42, inputs: {} }, path: "text" },
  { endpoint: RunCancelEndpoint, body: { version: 1 }, path: "runId" },
  { endpoint: LedgerUpdateEndpoint, body: { version: 1, runId: "r-1", fields: [] }, path: "fields" }
] as const

/** Runs the endpoint suite over the bus built by `makeBus`. */
export const endpointsSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>): void => {
  describe(`endpoints over ${name}`, () => {
    it("covers every declared endpoint", () => {
      expect(malformed.map((entry) => entry.endpoint.name)).toEqual(endpoints.map((endpoint) => endpoint.name))
    })

    it.live("answer a malformed request on each subject with a typed error naming the subject and the field, and keep serving", () =>
      Effect.gen(function* () {
        const stack = yield* makeStack("endpoints")
        yield* stack.registry
        yield* stack.scheduler()
        for (const { endpoint, body, path } of malformed) {
          // Every subject but ledger.update's is the endpoint's fixed one; that one names the run.
          const subject = endpoint === LedgerUpdateEndpoint ? stack.names.ledgerUpdate("r-1") : endpoint.listen(stack.names)
          const reply = yield* stack.bus.request(subject, encodeJson(body), {
            timeout: "5 seconds",
            headers: { [TypeHeader]: endpoint.requestType }
          })
          expect(reply.headers[TypeHeader], endpoint.name).toBe(EndpointErrorType)
          const error = yield* decode(endpoint.error, EndpointErrorType)({ ...reply, subject })
          expect(error, endpoint.name).toBeInstanceOf(MalformedMessageError)
          expect([error.subject, (error as MalformedMessageError).path], endpoint.name).toEqual([subject, path])
          expect((error as MalformedMessageError).message, endpoint.name).toContain(endpoint.requestType)
        }
        // Both services still answer well-formed requests.
        const names = stack.names
        const list = yield* Endpoints.call(stack.bus, names, StageList, new StageListRequest({ version: 1 }), { timeout: "5 seconds" })
        expect(list.version).toBe(1)
        const cancelled = yield* Endpoints.call(stack.bus, names, RunCancelEndpoint, new RunCancel({ version: 1, runId: "nobody" }), {
          timeout: "5 seconds"
        })
        expect(cancelled.runId).toBe("nobody")
      }).pipe(Effect.provide(makeBus()))
    )

    it.live("answer a request whose handler dies with ServiceUnavailableError instead of leaving the caller to time out", () =>
      Effect.gen(function* () {
        const stack = yield* makeStack("endpoints-defect")
        yield* Endpoints.serve({
          bus: stack.bus,
          names: stack.names,
          endpoint: StageList,
          queue: "test",
          concurrency: 1,
          handle: () => Effect.die(new Error("the handler broke"))
        })
        const error = yield* Endpoints.call(stack.bus, stack.names, StageList, new StageListRequest({ version: 1 }), {
          timeout: "20 seconds"
        }).pipe(Effect.flip)
        expect(error).toBeInstanceOf(ServiceUnavailableError)
        expect([(error as ServiceUnavailableError).operation, (error as ServiceUnavailableError).message]).toEqual([
          "handle",
          "Error: the handler broke"
        ])
      }).pipe(Effect.provide(makeBus()))
    )

    it.live("turn an error reply back into the typed error it carries on the client side", () =>
      Effect.gen(function* () {
        const stack = yield* makeStack("endpoints-client")
        // A stand-in for a scheduler that could not save: it answers every cancel with an error reply.
        const requests = yield* stack.bus.subscribe(stack.names.runCancel)
        yield* requests.pipe(
          Stream.runForEach((message) => {
            const reply = encode(
              RunCancelEndpoint.error,
              EndpointErrorType,
              new ServiceUnavailableError({ subject: message.subject, operation: "kv.update", message: "bucket offline" })
            )
            return stack.bus.respond(message, reply.data, { headers: reply.headers })
          }),
          Effect.forkScoped
        )
        const error = yield* Endpoints.call(stack.bus, stack.names, RunCancelEndpoint, new RunCancel({ version: 1, runId: "r-1" }), {
          timeout: "5 seconds"
        }).pipe(Effect.flip)
        expect(error).toBeInstanceOf(ServiceUnavailableError)
        expect([(error as ServiceUnavailableError).subject, (error as ServiceUnavailableError).isRetryable]).toEqual([
          stack.names.runCancel,
          true
        ])
      }).pipe(Effect.provide(makeBus()))
    )
  })
}
