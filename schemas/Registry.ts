/**
 * Registry messages: `stage.register` and `stage.deregister`
 * (request/reply), `stage.heartbeat`, `stage.list` and `stage.resolve`.
 */
import { Schema } from "effect"
import { Runtime, StageMetadata } from "./StageMetadata.ts"

/** `stage.register`: an executor announces the stage types its pool serves. */
export class StageRegistration extends Schema.Class<StageRegistration>("switchyard/StageRegistration")({
  version: Schema.Literal(1),
  pool: Schema.String,
  executorId: Schema.String,
  runtime: Runtime,
  stages: Schema.Array(Schema.Unknown)
}) {}

/** Why one stage of a registration was rejected. */
export class StageRejection extends Schema.Class<StageRejection>("switchyard/StageRejection")({
  /** `invalid-metadata`, `conflict` (another plugin owns the type) or `older-version`. */
  code: Schema.Literals(["invalid-metadata", "conflict", "older-version"]),
  /** Dotted path of the offending field, e.g. `stages[0].stateKey`. */
  path: Schema.String,
  message: Schema.String
}) {}

/** The registry's decision for one stage of a registration. */
export class StageDecision extends Schema.Class<StageDecision>("switchyard/StageDecision")({
  type: Schema.String,
  accepted: Schema.Boolean,
  rejection: Schema.optionalKey(StageRejection)
}) {}

/** Reply to `stage.register`. */
export class RegistrationReply extends Schema.Class<RegistrationReply>("switchyard/RegistrationReply")({
  version: Schema.Literal(1),
  decisions: Schema.Array(StageDecision)
}) {}

/** `stage.deregister`: an executor replica stops serving stage types of one plugin. */
export class StageDeregistration extends Schema.Class<StageDeregistration>("switchyard/StageDeregistration")({
  version: Schema.Literal(1),
  pool: Schema.String,
  executorId: Schema.String,
  /** The plugin (`StageMetadata.plugin`) that owns every type named. */
  plugin: Schema.String,
  types: Schema.Array(Schema.String),
  /** `shutdown`: the replica is stopping and serves nothing any more; `plugin-removed`: it keeps running without these types. */
  reason: Schema.Literals(["shutdown", "plugin-removed"])
}) {}

/** Why a stage type named in a deregistration stayed registered. */
export class StageKept extends Schema.Class<StageKept>("switchyard/StageKept")({
  /**
   * `not-registered` (nothing to remove), `not-owner` (another plugin owns the type), `other-pool`
   * (another pool serves it) or `still-served` (another live replica of the pool serves it).
   */
  code: Schema.Literals(["not-registered", "not-owner", "other-pool", "still-served"]),
  message: Schema.String
}) {}

/** The registry's decision for one stage type of a deregistration. */
export class DeregistrationDecision extends Schema.Class<DeregistrationDecision>("switchyard/DeregistrationDecision")({
  type: Schema.String,
  removed: Schema.Boolean,
  kept: Schema.optionalKey(StageKept)
}) {}

/** Reply to `stage.deregister`. */
export class DeregistrationReply extends Schema.Class<DeregistrationReply>("switchyard/DeregistrationReply")({
  version: Schema.Literal(1),
  decisions: Schema.Array(DeregistrationDecision)
}) {}

/** `stage.heartbeat`: an executor replica is alive. */
export class Heartbeat extends Schema.Class<Heartbeat>("switchyard/Heartbeat")({
  version: Schema.Literal(1),
  pool: Schema.String,
  executorId: Schema.String,
  slots: Schema.Int,
  inFlight: Schema.Int,
  /** The stage types the replica serves now; absent: unknown (the registry assumes every type of the pool). */
  types: Schema.optionalKey(Schema.Array(Schema.String))
}) {}

/** Reply to a `stage.heartbeat` sent as a request: the registry recorded the beat. */
export class HeartbeatReply extends Schema.Class<HeartbeatReply>("switchyard/HeartbeatReply")({
  version: Schema.Literal(1),
  /**
   * Stage types the beat lists that the registry has no record of (its state was lost, or an
   * operator removed them); the replica registers them again. Absent: none.
   */
  unknown: Schema.optionalKey(Schema.Array(Schema.String))
}) {}

/** A registered stage type with the pool that serves it. */
export class RegisteredStage extends Schema.Class<RegisteredStage>("switchyard/RegisteredStage")({
  metadata: StageMetadata,
  pool: Schema.String,
  online: Schema.Boolean,
  registeredAt: Schema.Number
}) {}

/** `stage.list` request. */
export class StageListRequest extends Schema.Class<StageListRequest>("switchyard/StageListRequest")({
  version: Schema.Literal(1)
}) {}

/** Reply to `stage.list`. */
export class StageListReply extends Schema.Class<StageListReply>("switchyard/StageListReply")({
  version: Schema.Literal(1),
  stages: Schema.Array(RegisteredStage)
}) {}

/** `stage.resolve` request: look up stage types by name. */
export class StageResolveRequest extends Schema.Class<StageResolveRequest>("switchyard/StageResolveRequest")({
  version: Schema.Literal(1),
  types: Schema.Array(Schema.String)
}) {}

/** Reply to `stage.resolve`: the known ones, and for each unknown name its closest known types. */
export class StageResolveReply extends Schema.Class<StageResolveReply>("switchyard/StageResolveReply")({
  version: Schema.Literal(1),
  found: Schema.Array(RegisteredStage),
  missing: Schema.Array(Schema.Struct({ type: Schema.String, suggestions: Schema.Array(Schema.String) }))
}) {}
