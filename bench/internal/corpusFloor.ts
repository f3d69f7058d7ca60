/**
 * The floor of the corpus benchmark: a pipeline's stages called directly in
 * one Node process, one after the other over the whole corpus, with no
 * runtime around them (no bus, no scheduler, no executor, no run record, no
 * events). It reads the pipeline file with the scheduler's own parser, so it
 * follows whatever the file says, renders each stage's inputs from the run
 * inputs and the state built so far (whole-value `{{ root.path }}` templates
 * keep their type, others are interpolated as text), calls the stage type's
 * `execute` from `@switchyard/plugin-core` with its config and inputs, and
 * applies the output to the state by the stage type's metadata (`set`,
 * `append`, `merge`, `unpack`, `none`, with the pipeline's overrides). A
 * stage with `for_each` gets the whole list as its `items` in one call, or
 * one call per item when its inputs use `{{ item }}`, outputs concatenated
 * in item order, as fan-out combines them. Stages run in file order, which
 * must respect `depends_on`.
 */
import { readFile } from "node:fs/promises"
import { Effect } from "effect"
import { stages as coreStages } from "@switchyard/plugin-core"
import type { StageDefinition } from "@switchyard/schemas/Stage"
import { parsePipeline } from "../../services/scheduler/PipelineLoader.ts"

/** What the floor measured. */
export interface FloorResult {
  /** Seconds of the stage loop (the pipeline already read, the stage modules loaded). */
  readonly loopSeconds: number
  /** Seconds per stage, by name, in the order run. */
  readonly stageSeconds: ReadonlyArray<readonly [stage: string, seconds: number]>
}

type Json = unknown
type State = Record<string, Json>

const wholeTemplate = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_-]+)*)\s*\}\}$/
const anyTemplate = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value)

const lookup = (scope: Readonly<Record<string, Json>>, root: string, path: string): Json => {
  let value: Json = scope[root]
  for (const key of path.split(".").filter((part) => part !== "")) {
    if (Array.isArray(value) && /^\d+$/.test(key)) value = value[Number(key)]
    else if (isObject(value)) value = value[key]
    else return undefined
  }
  return value
}

/** Renders templates anywhere in a value; unknown roots (`vars`, `secrets`) are left as written. */
const render = (value: Json, scope: Readonly<Record<string, Json>>): Json => {
  if (typeof value === "string") {
    const exact = wholeTemplate.exec(value)
    if (exact !== null && exact[1]! in scope) return lookup(scope, exact[1]!, exact[2]!) ?? null
    return value.replace(anyTemplate, (match: string, root: string, path: string) => {
      if (!(root in scope)) return match
      const found = lookup(scope, root, path)
      return found === undefined || found === null ? "" : typeof found === "string" ? found : JSON.stringify(found)
    })
  }
  if (Array.isArray(value)) return value.map((item) => render(item, scope))
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, render(item, scope)]))
  return value
}

/** The output applied to the state by `stateKey` and `mode`, as the scheduler applies it. */
const apply = (state: State, stateKey: string | ReadonlyArray<string> | null, mode: string, output: Json): State => {
  if (mode === "none" || stateKey === null) return state
  const keys = typeof stateKey === "string" ? [stateKey] : stateKey
  const next: State = { ...state }
  for (const key of keys) {
    const current = state[key]
    if (mode === "unpack") {
      if (isObject(output) && key in output) next[key] = output[key]
    } else if (mode === "set") {
      next[key] = output
    } else if (mode === "append") {
      next[key] = [
        ...(Array.isArray(current) ? current : current === undefined ? [] : [current]),
        ...(Array.isArray(output) ? output : [output])
      ]
    } else if (mode === "merge") {
      next[key] = { ...(isObject(current) ? current : {}), ...(isObject(output) ? output : {}) }
    } else {
      throw new Error(`unknown output mode ${mode}`)
    }
  }
  return next
}

/** Outputs of the calls of one `for_each` stage combined in item order, as fan-out combines them. */
const combine = (outputs: ReadonlyArray<Json>, mode: string): Json => {
  if (mode === "unpack") {
    const combined: Record<string, Array<Json>> = {}
    for (const output of outputs) {
      if (!isObject(output)) continue
      for (const [key, value] of Object.entries(output)) {
        // One element at a time: a spread of a corpus-sized list would overflow the call stack.
        const into = (combined[key] ??= [])
        for (const element of Array.isArray(value) ? value : [value]) into.push(element)
      }
    }
    return combined
  }
  if (mode === "merge") return Object.assign({}, ...outputs.filter(isObject))
  return outputs.flatMap((output) => (Array.isArray(output) ? output : [output]))
}

/** The stage type a pipeline names: its full type, or the short name after `core/core.`. */
const definitionOf = (type: string): StageDefinition<any, any> => {
  const found = (coreStages as ReadonlyArray<StageDefinition<any, any>>).find((definition) => {
    const full = definition.metadata.type
    const short = full.slice(full.lastIndexOf("/") + 1)
    return full === type || short === type || short.slice(short.indexOf(".") + 1) === type
  })
  if (found === undefined) throw new Error(`the floor knows no core stage type "${type}"`)
  return found
}

const call = async (definition: StageDefinition<any, any>, input: Json, stage: string): Promise<Json> => {
  const outcome = await Effect.runPromise(
    definition
      .execute(input, { taskId: `floor-${stage}`, runId: "floor", stage, attempt: 1 })
      .pipe(Effect.mapError((failure) => new Error(`stage ${stage}: ${failure.tag}: ${failure.message}`)))
  )
  if (outcome._tag !== "Done") throw new Error(`stage ${stage} waits (${outcome.waiting.message}); the floor cannot wait`)
  return outcome.output
}

/** Runs the pipeline in `file` with `inputs` over the run inputs' defaults. */
export const runFloor = async (file: string, inputs: Readonly<Record<string, Json>>): Promise<FloorResult> => {
  const { pipeline } = await Effect.runPromise(
    parsePipeline({ file, text: await readFile(file, "utf8") }).pipe(
      Effect.mapError((error) => new Error(error.issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")))
    )
  )
  const runInputs = { ...pipeline.inputs, ...inputs }
  const definitions = pipeline.stages.map((stage) => definitionOf(stage.type))
  let state: State = {}
  const stageSeconds: Array<readonly [string, number]> = []
  const started = performance.now()
  for (const [index, stage] of pipeline.stages.entries()) {
    const definition = definitions[index]!
    const stateKey = stage.metadata?.stateKey !== undefined ? stage.metadata.stateKey : definition.metadata.stateKey
    const mode = stage.metadata?.output ?? definition.metadata.output
    const t0 = performance.now()
    const scope: Record<string, Json> = { inputs: runInputs, state, ledger: {}, run: { id: "floor" } }
    const forEach = (stage as unknown as { readonly for_each?: Json }).for_each
    let output: Json
    if (forEach === undefined) {
      output = await call(definition, { ...stage.config, ...(render(stage.inputs ?? {}, scope) as object) }, stage.name)
    } else {
      const items = render(forEach, scope)
      if (!Array.isArray(items)) throw new Error(`stage ${stage.name}: for_each is not a list`)
      const perItem = /\{\{\s*item\s*\}\}/.test(JSON.stringify(stage.inputs ?? {}))
      const batches = perItem ? items.map((item) => ({ item, items: [item] })) : [{ item: items[0], items }]
      const outputs: Array<Json> = []
      for (const batch of batches) {
        const input = render(stage.inputs ?? {}, { ...scope, ...batch }) as object
        outputs.push(await call(definition, { ...stage.config, ...input }, stage.name))
      }
      output = combine(outputs, mode)
    }
    state = apply(state, stateKey, mode, output)
    stageSeconds.push([stage.name, (performance.now() - t0) / 1000])
  }
  return { loopSeconds: (performance.now() - started) / 1000, stageSeconds }
}
