/**
 * Registry messages: `stage.register` (request/reply), `stage.heartbeat`,
 * `stage.list` and `stage.resolve`.
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

/** `stage.heartbeat`: an executor replica is alive. */
export class Heartbeat extends Schema.Class<Heartbeat>("switchyard/Heartbeat")({
  version: Schema.Literal(1),
  pool: Schema.String,
  executorId: Schema.String,
  slots: Schema.Int,
  inFlight: Schema.Int
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
