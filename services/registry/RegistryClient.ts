/**
 * The registry as seen from anywhere else (executors, the scheduler, the
 * CLI): its endpoints (`stage.register`, `stage.deregister`,
 * `stage.heartbeat`, `stage.list`, `stage.resolve`) called through the one
 * generic endpoint client. An error reply from the registry comes back as
 * the typed error it names (`MalformedMessageError`,
 * `ServiceUnavailableError`), a silent registry as `RequestTimeoutError` or
 * `NoRespondersError`.
 */
import { Context, Duration, Effect, Layer } from "effect"
import type { Schema } from "effect"
import { Bus } from "@switchyard/bus/Bus"
import * as Endpoints from "@switchyard/bus/Endpoints"
import type { AnyEndpoint } from "@switchyard/schemas/Endpoint"
import { StageDeregister, StageHeartbeat, StageList, StageRegister, StageResolve } from "@switchyard/schemas/Endpoints"
import {
  type DeregistrationReply,
  type Heartbeat,
  type HeartbeatReply,
  type RegistrationReply,
  type StageDeregistration,
  type StageListReply,
  StageListRequest,
  type StageRegistration,
  type StageResolveReply,
  StageResolveRequest
} from "@switchyard/schemas/Registry"
import { Subjects } from "@switchyard/schemas/Subjects"

/** Why a registry call failed. */
export type RegistryClientError = Endpoints.CallError<typeof StageRegister>

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
    /** Reports a replica alive; answers once the registry has recorded it, naming the listed types it does not know. */
    readonly heartbeat: (heartbeat: Heartbeat) => Effect.Effect<HeartbeatReply, RegistryClientError>
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
        const call = <E extends AnyEndpoint>(endpoint: E, request: Schema.Schema.Type<E["request"]>) =>
          Endpoints.call(bus, names, endpoint, request, { timeout })

        return RegistryClient.of({
          register: Effect.fn("RegistryClient.register")((registration: StageRegistration) => call(StageRegister, registration)),
          deregister: Effect.fn("RegistryClient.deregister")((deregistration: StageDeregistration) =>
            call(StageDeregister, deregistration)
          ),
          heartbeat: Effect.fn("RegistryClient.heartbeat")((beat: Heartbeat) => call(StageHeartbeat, beat)),
          list: Effect.fn("RegistryClient.list")(() => call(StageList, new StageListRequest({ version: 1 }))),
          // Called on every run submission: a span, but no call-site stack capture.
          resolve: (types: ReadonlyArray<string>) =>
            call(StageResolve, new StageResolveRequest({ version: 1, types })).pipe(
              Effect.withSpan("RegistryClient.resolve", undefined, { captureStackTrace: false })
            )
        })
      })
    )

  /** A client with the default 5 second timeout. */
  static readonly layer: Layer.Layer<RegistryClient, never, Bus> = RegistryClient.layerWith({})
}
