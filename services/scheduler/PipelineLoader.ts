/**
 * Loads a pipeline: parses the YAML keeping positions, refuses keys no level
 * of the file knows (with the closest known one), decodes it with the
 * `Pipeline` schema, checks its graph (duplicate names, missing `depends_on`
 * targets, cycles) and then checks it against the registry (unknown stage
 * types with the closest known ones, stage-type dependencies that are not
 * upstream, literal stage inputs and config that do not match the stage
 * type's input schema). Every problem becomes a `PipelineIssue` naming file, line,
 * column, stage and field.
 */
import { Effect, Result, Schema } from "effect"
import { RegisteredStage } from "@switchyard/schemas/Registry"
import type { StageResolveReply } from "@switchyard/schemas/Registry"
import { MetadataOverride, Pipeline, PipelinePlugins, PipelineStage, RetryPolicy } from "@switchyard/schemas/Pipeline"
import { StageMetadata } from "@switchyard/schemas/StageMetadata"
import { validateStage } from "../registry/StageValidation.ts"
import { suggest } from "../registry/index.ts"
import { PipelineIssue } from "@switchyard/schemas/Run"
import { joinPath, parseYaml } from "@switchyard/schemas/YamlDocument"
import { describeIssue } from "@switchyard/schemas/Codec"
import { knownRoots, templateReferences } from "./internal/template.ts"
import type { TemplateReference } from "./internal/template.ts"
import { schemaProblems } from "./internal/inputSchema.ts"
import type { SchemaProblem } from "./internal/inputSchema.ts"
import { PipelineInvalidError } from "@switchyard/schemas/PipelineError"
import { defaultMaxFileBytes, defaultMaxStages, valueProblems } from "@switchyard/schemas/InputLimits"

/** A parsed pipeline with a way to point back into its source. */
export interface ParsedPipeline {
  readonly file: string
  readonly pipeline: Pipeline
  /** Issue at a dotted path such as `stages[1].depends_on[0]`. */
  readonly issueAt: (path: string, message: string, stage?: string) => PipelineIssue
}

/** A pipeline that passed every check, with its stage types resolved. */
export interface ValidatedPipeline {
  readonly file: string
  readonly pipeline: Pipeline
  /** Stage name → its registered stage type. */
  readonly stages: ReadonlyMap<string, RegisteredStage>
}

const stageNameAt = (raw: unknown, path: string): string | undefined => {
  const match = /^stages\[(\d+)\]/.exec(path)
  if (match === null || typeof raw !== "object" || raw === null) return undefined
  const stages = (raw as { stages?: unknown }).stages
  if (!Array.isArray(stages)) return undefined
  const stage: unknown = stages[Number(match[1])]
  return typeof stage === "object" && stage !== null && typeof (stage as { name?: unknown }).name === "string"
    ? (stage as { name: string }).name
    : undefined
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** A key that no level of the pipeline file knows, at a dotted path. */
interface UnknownKey {
  readonly path: string
  readonly message: string
}

const unknownIn = (value: unknown, known: ReadonlyArray<string>, at: string, found: Array<UnknownKey>): void => {
  if (!isRecord(value)) return
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const closest = suggest(key, known, 1)[0]
    found.push({
      path: at === "" ? key : `${at}.${key}`,
      message: `unknown key "${key}" (${closest === undefined ? `expected one of: ${known.join(", ")}` : `did you mean "${closest}"?`})`
    })
  }
}

const pipelineKeys = Object.keys(Pipeline.fields)
const stageKeys = Object.keys(PipelineStage.fields)
const pluginsKeys = Object.keys(PipelinePlugins.fields)
const retriesKeys = Object.keys(RetryPolicy.fields)
const metadataKeys = Object.keys(MetadataOverride.fields)

/** Keys the pipeline schema does not know; `inputs`, `config` and `summary` are free-form and not walked. */
const unknownKeys = (raw: unknown): Array<UnknownKey> => {
  const found: Array<UnknownKey> = []
  if (!isRecord(raw)) return found
  unknownIn(raw, pipelineKeys, "", found)
  unknownIn(raw["plugins"], pluginsKeys, "plugins", found)
  const stages = raw["stages"]
  if (Array.isArray(stages)) {
    stages.forEach((stage: unknown, index) => {
      unknownIn(stage, stageKeys, `stages[${index}]`, found)
      if (!isRecord(stage)) return
      unknownIn(stage["retries"], retriesKeys, `stages[${index}].retries`, found)
      unknownIn(stage["metadata"], metadataKeys, `stages[${index}].metadata`, found)
    })
  }
  return found
}

/** The limits a pipeline is held to besides those of every YAML file (`@switchyard/schemas/InputLimits`). */
export interface PipelineLimits {
  /** Stages a pipeline may have. @default 1000 */
  readonly maxStages?: number
  /** Bytes of pipeline text. @default 1 MiB */
  readonly maxBytes?: number
}

/**
 * Parses and decodes pipeline text; YAML syntax errors, input limits passed,
 * unknown keys and schema errors carry their position.
 */
export const parsePipeline = Effect.fnUntraced(function* (options: { readonly file: string; readonly text: string } & PipelineLimits) {
  const { file, text } = options
  const parsed = parseYaml(text, { maxBytes: options.maxBytes ?? defaultMaxFileBytes, bytesSetting: "SWITCHYARD_MAX_PIPELINE_BYTES" })
  if (parsed._tag === "Refused") {
    return yield* new PipelineInvalidError({
      file,
      issues: parsed.errors.map(
        (error) => new PipelineIssue({ file, line: error.line, column: error.column, path: error.path, message: error.message })
      )
    })
  }
  const { raw } = parsed
  const issueAt = (path: string, message: string, stage?: string): PipelineIssue => {
    const { column, line } = parsed.locate(path)
    const name = stage ?? stageNameAt(raw, path)
    return new PipelineIssue({ file, line, column, path, message, ...(name === undefined ? {} : { stage: name }) })
  }
  const maxStages = options.maxStages ?? defaultMaxStages
  const stageCount = isRecord(raw) && Array.isArray(raw["stages"]) ? raw["stages"].length : 0
  if (stageCount > maxStages) {
    // Refused before decoding: the rest of the checks grow with the number of stages.
    return yield* new PipelineInvalidError({
      file,
      issues: [issueAt(`stages[${maxStages}]`, `expected at most ${maxStages} stages (SWITCHYARD_MAX_STAGES), found ${stageCount}`)]
    })
  }
  const unknown = unknownKeys(raw).map(({ message, path }) => {
    const { column, line } = parsed.locateKey(path)
    const stage = stageNameAt(raw, path)
    return new PipelineIssue({ file, line, column, path, message, ...(stage === undefined ? {} : { stage }) })
  })
  const decoded = yield* Effect.result(Schema.decodeUnknownEffect(Pipeline)(raw, { errors: "all" }))
  if (decoded._tag === "Failure") {
    const { message, path } = describeIssue(decoded.failure.issue)
    return yield* new PipelineInvalidError({ file, issues: [...unknown, issueAt(path, message)] })
  }
  if (unknown.length > 0) return yield* new PipelineInvalidError({ file, issues: unknown })
  const pipeline = decoded.success
  return { file, pipeline, issueAt } satisfies ParsedPipeline
})

/** Checks the graph: unique names, existing `depends_on` targets, no cycles. */
export const checkGraph = (parsed: ParsedPipeline): Array<PipelineIssue> => {
  const { issueAt, pipeline } = parsed
  const issues: Array<PipelineIssue> = []
  const firstIndex = new Map<string, number>()
  pipeline.stages.forEach((stage, index) => {
    const seen = firstIndex.get(stage.name)
    if (seen === undefined) firstIndex.set(stage.name, index)
    else {
      issues.push(issueAt(`stages[${index}].name`, `duplicate stage name "${stage.name}" (first defined at stages[${seen}])`))
    }
  })
  pipeline.stages.forEach((stage, index) => {
    ;(stage.depends_on ?? []).forEach((target, j) => {
      if (!firstIndex.has(target)) {
        issues.push(
          issueAt(
            `stages[${index}].depends_on[${j}]`,
            `depends on "${target}", which is not a stage of this pipeline (its stages: ${[...firstIndex.keys()].join(", ")})`
          )
        )
      }
      if (target === stage.name) {
        issues.push(issueAt(`stages[${index}].depends_on[${j}]`, `stage "${stage.name}" depends on itself`))
      }
    })
  })
  const cycle = findCycle(pipeline)
  if (cycle !== undefined) {
    const index = firstIndex.get(cycle[0]!)!
    issues.push(issueAt(`stages[${index}].depends_on`, `dependency cycle: ${[...cycle, cycle[0]].join(" → ")}`))
  }
  return issues
}

/** A cycle of stage names (without repeating the first), if the DAG has one. */
const findCycle = (pipeline: Pipeline): Array<string> | undefined => {
  const edges = new Map(pipeline.stages.map((stage) => [stage.name, stage.depends_on ?? []] as const))
  const state = new Map<string, "visiting" | "done">()
  const stack: Array<string> = []
  const visit = (name: string): Array<string> | undefined => {
    const mark = state.get(name)
    if (mark === "done") return undefined
    if (mark === "visiting") return stack.slice(stack.indexOf(name))
    state.set(name, "visiting")
    stack.push(name)
    for (const next of edges.get(name) ?? []) {
      if (next === name || !edges.has(next)) continue
      const found = visit(next)
      if (found !== undefined) return found
    }
    stack.pop()
    state.set(name, "done")
    return undefined
  }
  for (const stage of pipeline.stages) {
    const found = visit(stage.name)
    if (found !== undefined) return found
  }
  return undefined
}

/** Every stage upstream of `name` (transitively through `depends_on`). */
export const upstreamOf = (pipeline: Pipeline, name: string): Set<string> => {
  const edges = new Map(pipeline.stages.map((stage) => [stage.name, stage.depends_on ?? []] as const))
  const seen = new Set<string>()
  const pending = [...(edges.get(name) ?? [])]
  while (pending.length > 0) {
    const next = pending.pop()!
    if (seen.has(next)) continue
    seen.add(next)
    pending.push(...(edges.get(next) ?? []))
  }
  return seen
}

/** Checks stage types against what the registry resolved. */
export const checkAgainstRegistry = (
  parsed: ParsedPipeline,
  resolved: StageResolveReply
): { readonly issues: Array<PipelineIssue>; readonly stages: Map<string, RegisteredStage> } => {
  const { issueAt, pipeline } = parsed
  const issues: Array<PipelineIssue> = []
  const byType = new Map(resolved.found.map((stage) => [stage.metadata.type, stage] as const))
  const shortNames = coreShortNames(resolved.found)
  const suggestions = new Map(resolved.missing.map((entry) => [entry.type, entry.suggestions] as const))
  const stages = new Map<string, RegisteredStage>()
  pipeline.stages.forEach((stage, index) => {
    const found = byType.get(stage.type) ?? shortNames.get(stage.type)
    const registered =
      found === undefined || stage.metadata === undefined ? found : overridden(found, stage.metadata, index, issueAt, issues)
    if (registered === undefined) {
      if (found !== undefined) return
      const closest = suggestions.get(stage.type) ?? []
      issues.push(
        issueAt(
          `stages[${index}].type`,
          `unknown stage type "${stage.type}"${closest.length > 0 ? `; did you mean ${closest.map((name) => `"${name}"`).join(", ")}?` : ""}`
        )
      )
      return
    }
    stages.set(stage.name, registered)
  })
  if (pipeline.permissions === "restricted") {
    pipeline.stages.forEach((stage, index) => {
      const registered = stages.get(stage.name)
      if (registered === undefined) return
      const why = restrictedRefusal(registered)
      if (why !== undefined)
        issues.push(issueAt(`stages[${index}].type`, `a restricted pipeline cannot run stage type "${stage.type}": ${why}`))
    })
  }
  pipeline.stages.forEach((stage, index) => {
    const registered = stages.get(stage.name)
    if (registered !== undefined) issues.push(...checkInputSchema(stage, index, registered, issueAt))
  })
  const typeOf = new Map(pipeline.stages.map((stage) => [stage.name, stages.get(stage.name)?.metadata.type ?? stage.type] as const))
  pipeline.stages.forEach((stage, index) => {
    const registered = stages.get(stage.name)
    if (registered === undefined || registered.metadata.dependencies.length === 0) return
    const upstreamTypes = new Set([...upstreamOf(pipeline, stage.name)].map((name) => typeOf.get(name)))
    for (const dependency of registered.metadata.dependencies) {
      if (!upstreamTypes.has(dependency)) {
        issues.push(
          issueAt(
            `stages[${index}].depends_on`,
            `stage type "${stage.type}" needs a "${dependency}" stage upstream (through depends_on), and none is`
          )
        )
      }
    }
  })
  return { issues, stages }
}

// Keywords about a value's shape (its type, its keys, how many items): rendering templates inside it does not change them.
const shapeKeywords = new Set([
  "type",
  "required",
  "additionalProperties",
  "propertyNames",
  "dependentRequired",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties"
])

const hasTemplate = (value: unknown): boolean => templateReferences(value).length > 0

const valueAt = (value: unknown, path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>(
    (current, key) => (typeof current === "object" && current !== null ? (current as Record<string, unknown>)[key] : undefined),
    value
  )

/**
 * Whether a problem can only be judged once templates are rendered: it is
 * about a value from `inputs` that is (or, for keywords on its content,
 * holds) a template. `config` is never rendered, so its values are final.
 */
const deferredToRun = (problem: SchemaProblem, inputs: Readonly<Record<string, unknown>>): boolean => {
  const head = problem.instance[0]
  if (head !== undefined && !Object.hasOwn(inputs, String(head))) return false
  const value = valueAt(inputs, problem.instance)
  if (typeof value === "string") return hasTemplate(value)
  return hasTemplate(value) && !shapeKeywords.has(problem.keyword)
}

/**
 * A stage's literal inputs and config (config first, inputs over it, as the
 * executor receives them) against its stage type's `inputs` JSON Schema:
 * required fields present, literal values of the right type. Values that hold
 * templates are checked by the executor when the task runs.
 */
const checkInputSchema = (
  stage: PipelineStage,
  index: number,
  registered: RegisteredStage,
  issueAt: ParsedPipeline["issueAt"]
): Array<PipelineIssue> => {
  const schema = registered.metadata.inputs
  if (schema === undefined) return []
  const inputs = stage.inputs ?? {}
  const config = stage.config ?? {}
  const problems = schemaProblems(schema, { ...config, ...inputs }) ?? []
  return problems
    .filter((problem) => !deferredToRun(problem, inputs))
    .map((problem) => {
      const head = problem.path[0]
      const section =
        head !== undefined && !Object.hasOwn(inputs, String(head)) && Object.hasOwn(config, String(head)) ? "config" : "inputs"
      return issueAt(
        joinPath(["stages", index, section, ...problem.path]),
        `input schema of ${registered.metadata.type}: ${problem.message}`,
        stage.name
      )
    })
}

/**
 * Checks every `{{ ... }}` in stage inputs before the run: known roots only;
 * `inputs.x` names an input the run has; `state.x` a slot some upstream stage
 * writes; `secrets.K` a secret the stage type declares; `run.id` only.
 */
export const checkTemplates = (
  parsed: ParsedPipeline,
  stages: ReadonlyMap<string, RegisteredStage>,
  inputs: Readonly<Record<string, unknown>>
): Array<PipelineIssue> => {
  const { issueAt, pipeline } = parsed
  const hostile = hostileRunInputs(parsed, inputs)
  if (hostile.length > 0) return hostile
  const issues: Array<PipelineIssue> = []
  const inputNames = new Set([...Object.keys(pipeline.inputs ?? {}), ...Object.keys(inputs)])
  const slotsOf = (name: string): ReadonlyArray<string> => {
    const stateKey = stages.get(name)?.metadata.stateKey
    return stateKey === undefined || stateKey === null ? [] : typeof stateKey === "string" ? [stateKey] : stateKey
  }
  const allSlots = pipeline.stages.flatMap((stage) => slotsOf(stage.name))
  for (const reference of templateReferences(pipeline.summary ?? {})) {
    const head = reference.path.split(".")[0]!
    const problem =
      reference.root === "state" && !allSlots.includes(head)
        ? `no stage writes the state slot "${head}" (slots: ${allSlots.join(", ") || "none"})`
        : reference.root === "inputs" && !inputNames.has(head)
          ? `the run has no input "${head}" (inputs: ${[...inputNames].join(", ") || "none"})`
          : !["state", "inputs", "ledger", "run"].includes(reference.root)
            ? `expected a reference to state, inputs, ledger or run`
            : undefined
    if (problem !== undefined) issues.push(issueAt(`summary.${reference.at}`, `${reference.text}: ${problem}`))
  }
  pipeline.stages.forEach((stage, index) => {
    const problemOf = (reference: TemplateReference): string | undefined => {
      const head = reference.path.split(".")[0]!
      {
        switch (reference.root) {
          case "inputs":
            return inputNames.has(head) ? undefined : `the run has no input "${head}" (inputs: ${[...inputNames].join(", ") || "none"})`
          case "state": {
            const upstream = [...upstreamOf(pipeline, stage.name)]
            if (upstream.some((name) => slotsOf(name).includes(head))) return undefined
            const written = upstream.flatMap(slotsOf)
            return `no stage upstream of "${stage.name}" writes the state slot "${head}" (upstream slots: ${written.join(", ") || "none"})`
          }
          case "run":
            return reference.path === "id" ? undefined : `expected run.id`
          case "secrets": {
            const declared = stages.get(stage.name)?.metadata.capabilities?.secrets ?? []
            return declared.includes(head)
              ? undefined
              : `stage type "${stage.type}" does not declare the secret "${head}" (declared: ${declared.join(", ") || "none"})`
          }
          case "ledger":
          case "vars":
            return undefined
          case "item":
          case "items":
            return stage.for_each === undefined
              ? `only a for_each stage has ${reference.root}`
              : reference.root === "item" && (stage.batch ?? 1) !== 1
                ? `a stage with batch ${stage.batch} has several items per task; use {{ items }}`
                : undefined
          default:
            return `unknown template root "${reference.root}"; expected one of ${[...knownRoots].join(", ")}`
        }
      }
    }
    for (const reference of templateReferences(stage.inputs ?? {})) {
      const problem = problemOf(reference)
      if (problem !== undefined)
        issues.push(issueAt(`stages[${index}].inputs.${reference.at}`, `${reference.text}: ${problem}`, stage.name))
    }
    issues.push(...checkForEach(stage, index, issueAt, problemOf))
  })
  return issues
}

/** The `for_each` settings of a stage: a whole template of a list from inputs, state or ledger; the rest only with it. */
const checkForEach = (
  stage: PipelineStage,
  index: number,
  issueAt: ParsedPipeline["issueAt"],
  problemOf: (reference: TemplateReference) => string | undefined
): Array<PipelineIssue> => {
  if (stage.for_each === undefined) {
    return (["batch", "max_parallel", "on_item_failure"] as const)
      .filter((key) => stage[key] !== undefined)
      .map((key) => issueAt(`stages[${index}].${key}`, `${key} applies only to a stage with for_each`, stage.name))
  }
  const at = `stages[${index}].for_each`
  const references = templateReferences(stage.for_each)
  const reference = references[0]
  if (references.length !== 1 || reference!.text !== stage.for_each.trim() || !listSources.has(reference!.root)) {
    return [
      issueAt(
        at,
        `expected one template of a list from inputs, state or ledger, such as "{{ state.payloads }}"; found ${JSON.stringify(stage.for_each)}`,
        stage.name
      )
    ]
  }
  const problem = problemOf(reference!)
  return problem === undefined ? [] : [issueAt(at, `${reference!.text}: ${problem}`, stage.name)]
}

/** Roots a `for_each` list may come from. */
const listSources = new Set(["inputs", "state", "ledger"])

/**
 * Inputs a run of the pipeline may be given: those its `inputs:` section
 * declares and those its templates (`{{ inputs.x }}` in stage inputs and the
 * summary) use.
 */
export const acceptedInputs = (pipeline: Pipeline): ReadonlyArray<string> => {
  const used = [...pipeline.stages.map((stage) => stage.inputs ?? {}), pipeline.summary ?? {}]
    .flatMap((value) => templateReferences(value))
    .filter((reference) => reference.root === "inputs")
    .map((reference) => reference.path.split(".")[0]!)
  return [...new Set([...Object.keys(pipeline.inputs ?? {}), ...used])]
}

/**
 * Run inputs with a forbidden key at any depth, or nested past the depth
 * limit (`@switchyard/schemas/InputLimits`), one issue each at the pipeline's
 * `inputs:` section naming the input's own path.
 */
export const hostileRunInputs = (parsed: ParsedPipeline, inputs: Readonly<Record<string, unknown>>): Array<PipelineIssue> =>
  valueProblems(inputs).map((problem) =>
    parsed.issueAt(parsed.pipeline.inputs === undefined ? "" : "inputs", `run input ${joinPath(problem.path)}: ${problem.message}`)
  )

/**
 * Run inputs the pipeline does not take (see `acceptedInputs`), one issue
 * each at the pipeline's `inputs:` section, naming the inputs it does take.
 */
export const checkRunInputs = (parsed: ParsedPipeline, inputs: Readonly<Record<string, unknown>>): Array<PipelineIssue> => {
  const accepted = acceptedInputs(parsed.pipeline)
  const hostile = hostileRunInputs(parsed, inputs)
  if (hostile.length > 0) return hostile
  return Object.keys(inputs)
    .filter((key) => !accepted.includes(key))
    .map((key) => {
      const closest = suggest(key, accepted, 1)[0]
      return parsed.issueAt(
        parsed.pipeline.inputs === undefined ? "" : "inputs",
        `unknown run input "${key}"${closest === undefined ? "" : ` (did you mean "${closest}"?)`}; the pipeline's inputs: ${accepted.join(", ") || "none"}`
      )
    })
}

/**
 * Short names of the `core` namespace's stage types among those found
 * (`core/core.ingest` answers to `ingest`); a short name two of them share
 * answers to neither.
 */
const coreShortNames = (found: ReadonlyArray<RegisteredStage>): ReadonlyMap<string, RegisteredStage> => {
  const names = new Map<string, RegisteredStage | undefined>()
  for (const stage of found) {
    const { type } = stage.metadata
    if (!type.startsWith("core/")) continue
    const short = type.slice(type.indexOf(".") + 1)
    names.set(short, names.has(short) ? undefined : stage)
  }
  return new Map([...names].filter((entry): entry is [string, RegisteredStage] => entry[1] !== undefined))
}

/**
 * A stage type's metadata with the pipeline's overrides applied, checked by
 * the registry's own rules; `undefined` (with the issue recorded) when the
 * result is not valid metadata.
 */
const overridden = (
  registered: RegisteredStage,
  override: MetadataOverride,
  index: number,
  issueAt: ParsedPipeline["issueAt"],
  issues: Array<PipelineIssue>
): RegisteredStage | undefined => {
  const merged = { ...Schema.encodeSync(StageMetadata)(registered.metadata), ...override }
  const checked = validateStage(merged, { index, runtime: registered.metadata.runtime })
  if (Result.isFailure(checked)) {
    const path = checked.failure.path.replace(/^stages\[(\d+)\]/u, "stages[$1].metadata")
    issues.push(issueAt(path, `metadata override: ${checked.failure.message}`))
    return undefined
  }
  return new RegisteredStage({ ...registered, metadata: checked.success })
}

/** Why a stage type may not run in a restricted pipeline, if it may not. */
const restrictedRefusal = (registered: RegisteredStage): string | undefined => {
  const { capabilities, runtime } = registered.metadata
  if (runtime !== "docker") return `it runs in the ${runtime} runtime, and restricted pipelines only run stages in the docker runtime`
  if (capabilities === undefined)
    return "it declares no capabilities (network, mounts, secrets), and restricted pipelines only run stages that do"
  return undefined
}

/**
 * Loads and validates a pipeline end to end; `resolve` asks the registry
 * about the stage types the pipeline names.
 */
export const loadPipeline = Effect.fnUntraced(function* <E, R>(
  options: { readonly file: string; readonly text: string; readonly inputs?: Readonly<Record<string, unknown>> },
  resolve: (types: ReadonlyArray<string>) => Effect.Effect<StageResolveReply, E, R>
) {
  const parsed = yield* parsePipeline(options)
  const graphIssues = checkGraph(parsed)
  const types = [...new Set(parsed.pipeline.stages.map((stage) => stage.type))]
  const resolved = yield* resolve(types)
  const { issues, stages } = checkAgainstRegistry(parsed, resolved)
  const all = [...graphIssues, ...issues, ...checkTemplates(parsed, stages, options.inputs ?? {})]
  if (all.length > 0) return yield* new PipelineInvalidError({ file: parsed.file, issues: all })
  return { file: parsed.file, pipeline: parsed.pipeline, stages } satisfies ValidatedPipeline
})
