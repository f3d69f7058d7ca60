/**
 * The catalog of published schemas: every wire message (with its
 * `switchyard-type` header value) plus the stage metadata and pipeline
 * documents, and their rendering as standalone JSON Schema (draft 2020-12)
 * files under `schemas/json/`. The generator script writes those files from
 * here and a test fails when the checked-in copies drift from it.
 */
import { JsonSchema, Schema } from "effect"
import { BlobRef } from "./Blob.ts"
import { MalformedMessageError } from "./Codec.ts"
import { EndpointErrorType, ServiceUnavailableError } from "./Endpoint.ts"
import { Pipeline } from "./Pipeline.ts"
import { PluginManifest } from "./PluginManifest.ts"
import {
  DeregistrationReply,
  Heartbeat,
  HeartbeatReply,
  RegistrationReply,
  StageListReply,
  StageDeregistration,
  StageListRequest,
  StageRegistration,
  StageResolveReply,
  StageResolveRequest
} from "./Registry.ts"
import { LedgerUpdate, LedgerUpdateReply, RunCancel, RunCancelReply, RunEvent, RunSubmit, RunSubmitReply } from "./Run.ts"
import { RunRecord } from "./RunRecord.ts"
import { StageMetadata } from "./StageMetadata.ts"
import { TaskCancel, TaskCancelled, TaskResult, TaskRun } from "./Task.ts"

/** The `switchyard-type` header value of each wire message: `<Type>/<version>`. */
export const WireType = {
  StageRegistration: "StageRegistration/1",
  RegistrationReply: "RegistrationReply/1",
  StageDeregistration: "StageDeregistration/1",
  DeregistrationReply: "DeregistrationReply/1",
  Heartbeat: "Heartbeat/1",
  HeartbeatReply: "HeartbeatReply/1",
  StageListRequest: "StageListRequest/1",
  StageListReply: "StageListReply/1",
  StageResolveRequest: "StageResolveRequest/1",
  StageResolveReply: "StageResolveReply/1",
  TaskRun: "TaskRun/1",
  TaskResult: "TaskResult/1",
  TaskCancel: "TaskCancel/1",
  TaskCancelled: "TaskCancelled/1",
  RunSubmit: "RunSubmit/1",
  RunSubmitReply: "RunSubmitReply/1",
  RunCancel: "RunCancel/1",
  RunCancelReply: "RunCancelReply/1",
  RunEvent: "RunEvent/1",
  LedgerUpdate: "LedgerUpdate/1",
  LedgerUpdateReply: "LedgerUpdateReply/1"
} as const

/** One published schema. */
export interface CatalogEntry {
  /** The schema's name, also the JSON Schema `title`. */
  readonly name: string
  readonly schema: Schema.Codec<unknown, unknown, never, never>
  /** The `switchyard-type` header value; absent for documents that are not bus messages. */
  readonly type?: string
  /** One sentence for the JSON Schema `description`. */
  readonly description: string
}

/** Every published schema, in the order the protocol documents them. */
export const catalog: ReadonlyArray<CatalogEntry> = [
  {
    name: "StageMetadata",
    schema: StageMetadata,
    description: "Metadata of one stage type: how its output is applied and counted, what it depends on, how it runs."
  },
  {
    name: "StageRegistration",
    schema: StageRegistration,
    type: WireType.StageRegistration,
    description: "stage.register request: an executor announces the stage types its pool serves."
  },
  {
    name: "RegistrationReply",
    schema: RegistrationReply,
    type: WireType.RegistrationReply,
    description: "Reply to stage.register: accepted or rejected per stage, with the reason."
  },
  {
    name: "StageDeregistration",
    schema: StageDeregistration,
    type: WireType.StageDeregistration,
    description:
      "stage.deregister request: an executor replica stops serving stage types of one plugin (it shuts down or the plugin disappeared)."
  },
  {
    name: "DeregistrationReply",
    schema: DeregistrationReply,
    type: WireType.DeregistrationReply,
    description: "Reply to stage.deregister: removed or kept per stage type, with the reason it was kept."
  },
  {
    name: "Heartbeat",
    schema: Heartbeat,
    type: WireType.Heartbeat,
    description: "stage.heartbeat: an executor replica is alive; pools that stop beating are marked offline."
  },
  {
    name: "HeartbeatReply",
    schema: HeartbeatReply,
    type: WireType.HeartbeatReply,
    description: "Reply to a stage.heartbeat sent as a request: the registry recorded the beat."
  },
  {
    name: "StageListRequest",
    schema: StageListRequest,
    type: WireType.StageListRequest,
    description: "stage.list request."
  },
  {
    name: "StageListReply",
    schema: StageListReply,
    type: WireType.StageListReply,
    description: "Reply to stage.list: every registered stage type with its pool."
  },
  {
    name: "StageResolveRequest",
    schema: StageResolveRequest,
    type: WireType.StageResolveRequest,
    description: "stage.resolve request: look up stage types by name."
  },
  {
    name: "StageResolveReply",
    schema: StageResolveReply,
    type: WireType.StageResolveReply,
    description: "Reply to stage.resolve: the known types, and suggestions for each unknown one."
  },
  {
    name: "TaskRun",
    schema: TaskRun,
    type: WireType.TaskRun,
    description: "task.run.<pool>: run one stage of one run (or a standalone task) on a pool."
  },
  {
    name: "TaskResult",
    schema: TaskResult,
    type: WireType.TaskResult,
    description: "task.result.<runId>: the outcome of one attempt of one task."
  },
  {
    name: "TaskCancel",
    schema: TaskCancel,
    type: WireType.TaskCancel,
    description: "task.cancel.<runId>: the run was cancelled; every executor replica stops the tasks of it that it holds."
  },
  {
    name: "TaskCancelled",
    schema: TaskCancelled,
    type: WireType.TaskCancelled,
    description: "task.cancelled.<runId>: an executor replica stopped these tasks of a cancelled run and acked them without a result."
  },
  {
    name: "RunSubmit",
    schema: RunSubmit,
    type: WireType.RunSubmit,
    description: "run.submit request: start a run of a pipeline given as YAML or JSON text."
  },
  {
    name: "RunSubmitReply",
    schema: RunSubmitReply,
    type: WireType.RunSubmitReply,
    description: "Reply to run.submit: the run id, or the problems found in the pipeline."
  },
  {
    name: "RunCancel",
    schema: RunCancel,
    type: WireType.RunCancel,
    description: "run.cancel request."
  },
  {
    name: "RunCancelReply",
    schema: RunCancelReply,
    type: WireType.RunCancelReply,
    description: "Reply to run.cancel."
  },
  {
    name: "RunEvent",
    schema: RunEvent,
    type: WireType.RunEvent,
    description: "run.event.<runId>: progress of a run."
  },
  {
    name: "LedgerUpdate",
    schema: LedgerUpdate,
    type: WireType.LedgerUpdate,
    description: "ledger.update.<runId>: set ledger fields of a run; wakes gates waiting on them."
  },
  {
    name: "LedgerUpdateReply",
    schema: LedgerUpdateReply,
    type: WireType.LedgerUpdateReply,
    description: "Reply to ledger.update.<runId> sent as a request: whether the fields were applied, and the run's status."
  },
  {
    name: "EndpointError",
    schema: Schema.Union([MalformedMessageError, ServiceUnavailableError]),
    type: EndpointErrorType,
    description:
      "An error reply of any request/reply subject: the request did not decode (MalformedMessageError) or the service could not serve it for a passing reason (ServiceUnavailableError)."
  },
  {
    name: "BlobRef",
    schema: BlobRef,
    description:
      "A reference standing in for a value stored in the blob store under the SHA-256 of its bytes; length is the element count of a list; from/to or at make it stand for part of the list it names."
  },
  {
    name: "Pipeline",
    schema: Pipeline,
    description: "A pipeline file: a DAG of stages, each naming a stage type, its inputs, dependencies, retries and timeout."
  },
  {
    name: "RunRecord",
    schema: RunRecord,
    description: "The run-state bucket's value for one run: pipeline, inputs, state slots, ledger and every stage's status."
  },
  {
    name: "Plugin",
    schema: PluginManifest,
    description:
      "A plugin manifest (plugin.yaml): identity, runtime, entry or image, the actions it provides and the capabilities it asks for."
  }
]

/** `RunSubmitReply` → `run-submit-reply`. */
export const kebabName = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()

/** File name of an entry's JSON Schema under `schemas/json/`. */
export const jsonSchemaFileName = (entry: CatalogEntry): string => `${kebabName(entry.name)}.schema.json`

/** The `$id` of an entry's JSON Schema. */
export const jsonSchemaId = (entry: CatalogEntry): string => `urn:switchyard:schema:${kebabName(entry.name)}`

// Nested classes are named `switchyard/<Name>`; their encoded side gets an `Encoded` suffix.
const definitionName = ({ identifier }: { readonly identifier: string | undefined }): string | undefined =>
  identifier?.replace(/^switchyard\//, "").replace(/Encoded$/, "")

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isObject = (value: unknown): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const nonFinite = new Set(["Infinity", "-Infinity", "NaN"])

// Effect describes `Schema.Number` as "a number or one of the strings Infinity,
// -Infinity, NaN" (its own JSON codec). On this wire a number is a plain JSON
// number and the decoder rejects those strings, so the union is narrowed back.
const isNonFiniteNumberUnion = (branches: Json): boolean =>
  Array.isArray(branches) &&
  branches.length === 2 &&
  branches.some((branch) => isObject(branch) && branch["type"] === "number" && Object.keys(branch).length === 1) &&
  branches.some(
    (branch) =>
      isObject(branch) &&
      branch["type"] === "string" &&
      Array.isArray(branch["enum"]) &&
      branch["enum"].every((value) => typeof value === "string" && nonFinite.has(value))
  )

const normalize = (value: Json): Json => {
  if (Array.isArray(value)) return value.map(normalize)
  if (!isObject(value)) return value
  const out: Record<string, Json> = {}
  const anyOf = value["anyOf"]
  if (anyOf !== undefined && isNonFiniteNumberUnion(anyOf)) out["type"] = "number"
  for (const [key, child] of Object.entries(value)) {
    if (key === "anyOf" && "type" in out) continue
    out[key] = normalize(child)
  }
  return out
}

/** The JSON Schema document of an entry: root inlined, nested classes under `$defs`. */
export const toJsonSchema = (entry: CatalogEntry): { readonly [key: string]: Json } => {
  const document = Schema.toJsonSchemaDocument(entry.schema, { referencePolicy: definitionName })
  const definitions = normalize(document.definitions as Json) as Record<string, Json>
  const root = normalize(document.schema as Json) as Record<string, Json>
  const rootRef = typeof root["$ref"] === "string" ? root["$ref"] : undefined
  const rootName = rootRef?.startsWith("#/$defs/") ? rootRef.slice("#/$defs/".length) : undefined
  const rest = Object.fromEntries(Object.entries(definitions).filter(([name]) => name !== rootName))
  // Inline the root definition unless something else points back at it.
  const inline = rootName !== undefined && isObject(definitions[rootName]) && !JSON.stringify(rest).includes(`"${rootRef}"`)
  const body = inline ? (definitions[rootName] as Record<string, Json>) : root
  const defs = inline ? rest : definitions
  return {
    $schema: JsonSchema.META_SCHEMA_URI_DRAFT_2020_12,
    $id: jsonSchemaId(entry),
    title: entry.name,
    description: entry.description,
    ...body,
    ...(Object.keys(defs).length > 0 ? { $defs: defs } : {})
  }
}

/** The exact text of an entry's checked-in JSON Schema file. */
export const renderJsonSchema = (entry: CatalogEntry): string => `${JSON.stringify(toJsonSchema(entry), null, 2)}\n`
