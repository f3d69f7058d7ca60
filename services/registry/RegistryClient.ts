/**
 * The registry as seen from anywhere else (executors, the scheduler, the
 * CLI): typed request/reply over the bus on the registry's subjects. Replies
 * are decoded with their schemas; an error reply from the registry comes back
 * as the typed error it names (`MalformedMessageError`,
 * `RegistryUnavailableError`), a silent registry as `RequestTimeoutError` or
 * `NoRespondersError`.
 */
import { Context, Duration, Effect, Layer } from "effect"
import { WireType } from "@switchyard/schemas/Catalog"
import {
  DeregistrationReply,
  Heartbeat,
  RegistrationReply,
  StageListReply,
  StageDeregistration,
  StageListRequest,
  StageRegistration,
  StageResolveReply
} from "@switchyard/schemas/Registry"
import { Bus, type Headers, type Message } from "@switchyard/bus/Bus"
import type { BusError, NoRespondersError, RequestTimeoutError } from "@switchyard/bus/BusError"
import { decode, encode, encodePlain, type MalformedMessageError, TypeHeader } from "@switchyard/schemas/Codec"
import { Subjects } from "@switchyard/schemas/Subjects"
import { traceHeaders } from "@switchyard/schemas/TraceContext"
import { RegistryErrorReply, RegistryErrorType, type RegistryUnavailableError } from "./RegistryError.ts"

/** Why a registry call failed. */
export type RegistryClientError = BusError | RequestTimeoutError | NoRespondersError | MalformedMessageError | RegistryUnavailableError

/** Options of `RegistryClient.layerWith`. */
export interface RegistryClientOptions {
  /**
   * How long each request waits for the registry.
   * @default "5 seconds"
   */
  readonly timeout?: Duration.Input
}

/** The registry client service. */
export class RegistryClient extends Context.Service<
  RegistryClient,
  {
    /** Announces a pool's stage types; one decision per stage. */
    readonly register: (registration: StageRegistration) => Effect.Effect<RegistrationReply, RegistryClientError>
    /** Withdraws stage types of one plugin from a replica; one decision per type. */
    readonly deregister: (deregistration: StageDeregistration) => Effect.Effect<DeregistrationReply, RegistryClientError>
    /** Reports a replica alive; succeeds once the registry has recorded it. */
    readonly heartbeat: (heartbeat: Heartbeat) => Effect.Effect<void, RegistryClientError>
    /** Every registered stage type. */
    readonly list: () => Effect.Effect<StageListReply, RegistryClientError>
    /** Looks stage types up, with suggestions for unknown ones. */
    readonly resolve: (types: ReadonlyArray<string>) => Effect.Effect<StageResolveReply, RegistryClientError>
  }
>()("switchyard/registry/RegistryClient") {
  /** A client with the given request timeout. */
  static readonly layerWith = (options: RegistryClientOptions): Layer.Layer<RegistryClient, never, Bus> =>
    Layer.effect(
      RegistryClient,
      Effect.gen(function* () {
        const bus = yield* Bus
        const names = yield* Subjects
        const timeout = Duration.fromInputUnsafe(options.timeout ?? "5 seconds")

        const decodeError = decode(RegistryErrorReply, RegistryErrorType)

        /** Sends a request and reads the reply: `onReply` for a normal one, the named error for an error reply. */
        const ask = <A>(
          subject: string,
          request: { readonly data: Uint8Array; readonly headers: Headers },
          onReply: (reply: Message) => Effect.Effect<A, MalformedMessageError>
        ): Effect.Effect<A, RegistryClientError> =>
          traceHeaders.pipe(
            Effect.flatMap((trace) => bus.request(subject, request.data, { timeout, headers: { ...request.headers, ...trace } })),
            Effect.flatMap((reply) => {
              // Decode errors name the request's subject, not the reply inbox.
              const received: Message = { ...reply, subject }
              const type = reply.headers[TypeHeader]
              return type !== undefined && type.split("/")[0] === RegistryErrorType.split("/")[0]
                ? decodeError(received).pipe(Effect.flatMap((error) => Effect.fail(error)))
                : onReply(received)
            })
          )

        const register = Effect.fn("RegistryClient.register")(function* (registration: StageRegistration) {
          return yield* ask(
            names.stageRegister,
            encode(StageRegistration, WireType.StageRegistration, registration),
            decode(RegistrationReply, WireType.RegistrationReply)
          )
        })

        const deregister = Effect.fn("RegistryClient.deregister")(function* (deregistration: StageDeregistration) {
          return yield* ask(
            names.stageDeregister,
            encode(StageDeregistration, WireType.StageDeregistration, deregistration),
            decode(DeregistrationReply, WireType.DeregistrationReply)
          )
        })

        const heartbeat = Effect.fn("RegistryClient.heartbeat")(function* (beat: Heartbeat) {
          yield* ask(names.stageHeartbeat, encode(Heartbeat, WireType.Heartbeat, beat), () => Effect.void)
        })

        const list = Effect.fn("RegistryClient.list")(function* () {
          return yield* ask(
            names.stageList,
            encode(StageListRequest, WireType.StageListRequest, new StageListRequest({ version: 1 })),
            decode(StageListReply, WireType.StageListReply)
          )
        })

        const decodeResolveReply = decode(StageResolveReply, WireType.StageResolveReply)

        // Called on every run submission: a span, but no call-site stack capture.
        const resolve = (types: ReadonlyArray<string>) =>
          ask(names.stageResolve, encodePlain(WireType.StageResolveRequest, { version: 1, types }), decodeResolveReply).pipe(
            Effect.withSpan("RegistryClient.resolve", undefined, { captureStackTrace: false })
          )

        return RegistryClient.of({ register, deregister, heartbeat, list, resolve })
      })
    )

  /** A client with the default 5 second timeout. */
  static readonly layer: Layer.Layer<RegistryClient, never, Bus> = RegistryClient.layerWith({})
}
