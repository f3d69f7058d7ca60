import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { checkRunInputs, loadPipeline, parsePipeline } from "../../../services/scheduler/PipelineLoader.ts"
import { formatIssue } from "../../../schemas/PipelineError.ts"
import { resolverOf, stage } from "./fixtures.ts"

const known = [
  stage({ type: "hello.greet", stateKey: "greeting", output: "set", count: "one" }),
  stage({ type: "hello.shout", stateKey: "shouted", output: "set" }),
  stage({ type: "hello.summary", stateKey: "summary", output: "set", dependencies: ["hello.greet"] }),
  stage({ type: "core/core.ingest", stateKey: "payloads", output: "set", count: "length" }),
  stage({ type: "core/core.parse", stateKey: "document", output: "set", count: "one", dependencies: ["core/core.ingest"] })
]

const load = (text: string) => loadPipeline({ file: "pipelines/test.yaml", text }, resolverOf(known))

const failureOf = (text: string) =>
  load(text).pipe(
    Effect.flip,
    Effect.map((error) => error.issues.map(formatIssue))
  )

describe("PipelineLoader", () => {
  it.effect("accepts a valid fan-out / fan-in pipeline and resolves every stage", () =>
    Effect.gen(function* () {
      const loaded = yield* load(`
name: ok
stages:
  - name: greet
    type: hello.greet
  - name: shout
    type: hello.shout
    depends_on: [greet]
  - name: summary
    type: hello.summary
    depends_on: [shout]
`)
      expect([...loaded.stages.keys()]).toEqual(["greet", "shout", "summary"])
      expect(loaded.stages.get("summary")?.metadata.dependencies).toEqual(["hello.greet"])
    })
  )

  it.effect("accepts a top-level vars: map of strings", () =>
    Effect.gen(function* () {
      const loaded = yield* load(
        "name: v\nvars: { API_BASE: https://api.example, region: eu }\nstages:\n  - name: a\n    type: hello.greet\n"
      )
      expect(loaded.pipeline.vars).toEqual({ API_BASE: "https://api.example", region: "eu" })
    })
  )

  it.effect("rejects vars: whose names or values are not what {{ vars.KEY }} takes, naming the field", () =>
    Effect.gen(function* () {
      const badName = yield* failureOf("name: v\nvars:\n  api-base: x\nstages: []\n")
      expect(badName.join("\n")).toMatch(/^pipelines\/test\.yaml:3:\d+: vars(\.|\[")api-base.*expected a var name/)
      const badValue = yield* failureOf("name: v\nvars:\n  retries: { n: 3 }\nstages: []\n")
      expect(badValue.join("\n")).toMatch(/^pipelines\/test\.yaml:3:\d+: vars\.retries: .*string/)
    })
  )

  it.effect("names the file, line and column of a YAML syntax error", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf("name: broken\nstages: []\nname: again\n")
      expect(issues).toEqual(["pipelines/test.yaml:3:1: YAML syntax error: Map keys must be unique"])
    })
  )

  it.effect("names the stage, line and field of a schema error", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf("name: bad\nstages:\n  - name: a\n    type: hello.greet\n    depends_on: 3\n")
      expect(issues[0]).toMatch(/^pipelines\/test\.yaml:5:17: stage "a": stages\[0\]\.depends_on: /)
    })
  )

  it.effect("rejects keys the pipeline file does not know, at the key, suggesting the closest known one", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf(`
name: typos
inputz: { name: x }
plugins: { path: [plugins] }
stages:
  - name: greet
    type: hello.greet
    timeout: 5000
    retries: { max_attempts: 2, backoff: 10 }
    metadata: { state_key: salutation }
  - name: shout
    type: hello.shout
    dependson: [greet]
    frobnicate: true
`)
      expect(issues).toEqual([
        `pipelines/test.yaml:3:1: inputz: unknown key "inputz" (did you mean "inputs"?)`,
        `pipelines/test.yaml:4:12: plugins.path: unknown key "path" (did you mean "paths"?)`,
        `pipelines/test.yaml:8:5: stage "greet": stages[0].timeout: unknown key "timeout" (did you mean "timeout_ms"?)`,
        `pipelines/test.yaml:9:33: stage "greet": stages[0].retries.backoff: unknown key "backoff" (did you mean "backoff_ms"?)`,
        `pipelines/test.yaml:10:17: stage "greet": stages[0].metadata.state_key: unknown key "state_key" (did you mean "stateKey"?)`,
        `pipelines/test.yaml:13:5: stage "shout": stages[1].dependson: unknown key "dependson" (did you mean "depends_on"?)`,
        `pipelines/test.yaml:14:5: stage "shout": stages[1].frobnicate: unknown key "frobnicate" (expected one of: name, type, inputs, config, metadata, depends_on, retries, timeout_ms, for_each, batch, max_parallel, on_item_failure)`
      ])
    })
  )

  it.effect("reports unknown keys together with a schema error of the same file", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf("name: x\nstages:\n  - name: a\n    type: hello.greet\n    timeout_ms: soon\n    dependson: []\n")
      expect(issues).toEqual([
        `pipelines/test.yaml:6:5: stage "a": stages[0].dependson: unknown key "dependson" (did you mean "depends_on"?)`,
        expect.stringMatching(/^pipelines\/test\.yaml:5:17: stage "a": stages\[0\]\.timeout_ms: /)
      ])
    })
  )

  it.effect("checks literal stage inputs and config against the stage type's input schema, leaving templates to the run", () =>
    Effect.gen(function* () {
      const resize = stage({
        type: "acme.resize",
        inputs: {
          $schema: "https://json-schema.org/draft/2020-12/schema",
          type: "object",
          properties: {
            image: { type: "string" },
            width: { type: "integer", minimum: 1 },
            mode: { enum: ["fit", "fill"] },
            sizes: { type: "array", items: { type: "integer" } },
            options: { type: "object", properties: { quality: { type: "number" } }, required: ["quality"] },
            source: { anyOf: [{ type: "string" }, { type: "object", properties: { path: { type: "string" } }, required: ["path"] }] }
          },
          required: ["image", "width"]
        }
      } as never)
      const check = (text: string) =>
        loadPipeline({ file: "p.yaml", text, inputs: { w: 3, img: "a.png" } }, resolverOf([resize])).pipe(
          Effect.flip,
          Effect.map((error) => error.issues.map(formatIssue))
        )
      expect(
        yield* check(`
name: literal
stages:
  - name: none
    type: acme.resize
  - name: wrong
    type: acme.resize
    config: { width: 0, mode: stretch }
    inputs:
      image: 42
      sizes: [1, "two"]
      options: {}
      source: { file: x }
`)
      ).toEqual([
        `p.yaml:4:5: stage "none": stages[0].inputs.image: input schema of acme.resize: missing required field "image" (expected string)`,
        `p.yaml:4:5: stage "none": stages[0].inputs.width: input schema of acme.resize: missing required field "width" (expected integer)`,
        `p.yaml:10:14: stage "wrong": stages[1].inputs.image: input schema of acme.resize: expected string, found 42`,
        `p.yaml:8:22: stage "wrong": stages[1].config.width: input schema of acme.resize: must be >= 1, found 0`,
        `p.yaml:8:31: stage "wrong": stages[1].config.mode: input schema of acme.resize: expected one of "fit", "fill", found "stretch"`,
        `p.yaml:11:18: stage "wrong": stages[1].inputs.sizes[1]: input schema of acme.resize: expected integer, found "two"`,
        `p.yaml:12:16: stage "wrong": stages[1].inputs.options.quality: input schema of acme.resize: missing required field "quality" (expected number)`,
        `p.yaml:13:15: stage "wrong": stages[1].inputs.source: input schema of acme.resize: expected string or object, found a mapping`
      ])
      const loaded = yield* loadPipeline(
        {
          file: "p.yaml",
          inputs: { w: 3, img: "a.png", mode: "fit" },
          text: `
name: templated
stages:
  - name: templated
    type: acme.resize
    config: { width: "not a number", mode: fit }
    inputs:
      image: "{{ inputs.img }}"
      width: "{{ inputs.w }}"
      mode: "{{ inputs.mode }}"
      sizes: ["{{ inputs.w }}", 2]
      options: { quality: "{{ inputs.w }}" }
      source: { path: "{{ inputs.img }}" }
`
        },
        resolverOf([resize])
      )
      expect([...loaded.stages.keys()]).toEqual(["templated"])
    })
  )

  it.effect("takes the run inputs the pipeline declares or its templates use, and names any other with the ones it takes", () =>
    Effect.gen(function* () {
      const declared = yield* parsePipeline({
        file: "p.yaml",
        text: `
name: declared
inputs:
  name: World
stages:
  - name: greet
    type: hello.greet
    inputs: { name: "{{ inputs.name }}", dir: "{{ inputs.dir }}/out" }
summary:
  who: "{{ inputs.title }}"
`
      })
      expect(checkRunInputs(declared, { name: "Ada", dir: "/tmp", title: "Dr" })).toEqual([])
      expect(checkRunInputs(declared, { nmae: "Ada", extra: 1 }).map(formatIssue)).toEqual([
        `p.yaml:4:3: inputs: unknown run input "nmae" (did you mean "name"?); the pipeline's inputs: name, dir, title`,
        `p.yaml:4:3: inputs: unknown run input "extra"; the pipeline's inputs: name, dir, title`
      ])
      const none = yield* parsePipeline({ file: "p.yaml", text: "name: bare\nstages:\n  - name: greet\n    type: hello.greet\n" })
      expect(checkRunInputs(none, { name: "Ada" }).map(formatIssue)).toEqual([
        `p.yaml:1:1: unknown run input "name"; the pipeline's inputs: none`
      ])
    })
  )

  it.effect("takes on_unschedulable: wait or fail, and names the field and the choices for anything else", () =>
    Effect.gen(function* () {
      const loaded = yield* load("name: ok\non_unschedulable: fail\nstages:\n  - { name: greet, type: hello.greet }\n")
      expect(loaded.pipeline.on_unschedulable).toBe("fail")
      const issues = yield* failureOf("name: bad\non_unschedulable: later\nstages:\n  - { name: greet, type: hello.greet }\n")
      expect(issues).toHaveLength(1)
      expect(issues[0]).toContain("pipelines/test.yaml:2:")
      expect(issues[0]).toContain("on_unschedulable")
      expect(issues[0]).toMatch(/"wait".*"fail"/)
    })
  )

  it.effect("rejects an unknown stage type and suggests the closest known types", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf("name: x\nstages:\n  - name: a\n    type: hello.great\n")
      expect(issues).toEqual([
        `pipelines/test.yaml:4:11: stage "a": stages[0].type: unknown stage type "hello.great"; did you mean "hello.greet", "hello.shout", "hello.summary"?`
      ])
    })
  )

  it.effect("rejects a dependency cycle and names the cycle", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf(`
name: cyclic
stages:
  - name: a
    type: hello.greet
    depends_on: [c]
  - name: b
    type: hello.shout
    depends_on: [a]
  - name: c
    type: hello.shout
    depends_on: [b]
`)
      expect(issues).toEqual([`pipelines/test.yaml:6:17: stage "a": stages[0].depends_on: dependency cycle: a → c → b → a`])
    })
  )

  it.effect("rejects depends_on naming a missing stage", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf("name: x\nstages:\n  - name: a\n    type: hello.greet\n    depends_on: [ghost]\n")
      expect(issues).toEqual([
        `pipelines/test.yaml:5:18: stage "a": stages[0].depends_on[0]: depends on "ghost", which is not a stage of this pipeline (its stages: a)`
      ])
    })
  )

  it.effect("rejects duplicate stage names", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf("name: x\nstages:\n  - name: a\n    type: hello.greet\n  - name: a\n    type: hello.shout\n")
      expect(issues).toEqual([`pipelines/test.yaml:5:11: stage "a": stages[1].name: duplicate stage name "a" (first defined at stages[0])`])
    })
  )

  it.effect("rejects a stage type whose declared dependencies are not upstream", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf(`
name: x
stages:
  - name: greet
    type: hello.greet
  - name: summary
    type: hello.summary
`)
      expect(issues).toEqual([
        `pipelines/test.yaml:6:5: stage "summary": stages[1].depends_on: stage type "hello.summary" needs a "hello.greet" stage upstream (through depends_on), and none is`
      ])
    })
  )

  it.effect("refuses a restricted pipeline naming each stage that does not run in the docker runtime with declared capabilities", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf(`
name: locked
permissions: restricted
stages:
  - name: greet
    type: hello.greet
  - name: shout
    type: hello.shout
    depends_on: [greet]
`)
      expect(issues).toEqual([
        `pipelines/test.yaml:6:11: stage "greet": stages[0].type: a restricted pipeline cannot run stage type "hello.greet": it runs in the inline runtime, and restricted pipelines only run stages in the docker runtime`,
        `pipelines/test.yaml:8:11: stage "shout": stages[1].type: a restricted pipeline cannot run stage type "hello.shout": it runs in the inline runtime, and restricted pipelines only run stages in the docker runtime`
      ])
    })
  )

  it.effect("lets a restricted pipeline run docker stages that declare their capabilities, and only those", () =>
    Effect.gen(function* () {
      const sandboxed = [
        stage({ type: "box.fetch", runtime: "docker", capabilities: { network: true } } as never),
        stage({ type: "box.bare", runtime: "docker" } as never)
      ]
      const text = (type: string) => `name: locked\npermissions: restricted\nstages:\n  - name: a\n    type: ${type}\n`
      const loaded = yield* loadPipeline({ file: "p.yaml", text: text("box.fetch") }, resolverOf(sandboxed))
      expect([...loaded.stages.keys()]).toEqual(["a"])
      const refused = yield* loadPipeline({ file: "p.yaml", text: text("box.bare") }, resolverOf(sandboxed)).pipe(Effect.flip)
      expect(refused.issues.map(formatIssue)).toEqual([
        `p.yaml:5:11: stage "a": stages[0].type: a restricted pipeline cannot run stage type "box.bare": it declares no capabilities (network, mounts, secrets), and restricted pipelines only run stages that do`
      ])
    })
  )

  it.effect("rejects template references the run cannot resolve, before it runs", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf(`
name: refs
inputs: { name: x }
stages:
  - name: greet
    type: hello.greet
    inputs: { who: "{{ inputs.nobody }}", id: "{{ run.number }}", odd: "{{ foo.bar }}" }
  - name: shout
    type: hello.shout
    depends_on: [greet]
    inputs: { text: "{{ state.shouted }}", fine: "{{ state.greeting }} {{ ledger.any }} {{ vars.X }}", key: "{{ secrets.TOKEN }}" }
`)
      expect(issues).toEqual([
        `pipelines/test.yaml:7:20: stage "greet": stages[0].inputs.who: {{ inputs.nobody }}: the run has no input "nobody" (inputs: name)`,
        `pipelines/test.yaml:7:47: stage "greet": stages[0].inputs.id: {{ run.number }}: expected run.id`,
        `pipelines/test.yaml:7:72: stage "greet": stages[0].inputs.odd: {{ foo.bar }}: unknown template root "foo"; expected one of inputs, state, ledger, run, item, items, vars, secrets`,
        `pipelines/test.yaml:11:21: stage "shout": stages[1].inputs.text: {{ state.shouted }}: no stage upstream of "shout" writes the state slot "shouted" (upstream slots: greeting)`,
        `pipelines/test.yaml:11:109: stage "shout": stages[1].inputs.key: {{ secrets.TOKEN }}: stage type "hello.shout" does not declare the secret "TOKEN" (declared: none)`
      ])
    })
  )

  it.effect("accepts a for_each stage whose inputs use {{ items }} and {{ item }}", () =>
    Effect.gen(function* () {
      const loaded = yield* load(`
name: each
inputs: { names: [a, b] }
stages:
  - name: greet
    type: hello.greet
    for_each: "{{ inputs.names }}"
    batch: 1
    max_parallel: 8
    on_item_failure: skip
    inputs: { who: "{{ item }}", all: "{{ items }}" }
`)
      expect(loaded.pipeline.stages[0]).toMatchObject({
        for_each: "{{ inputs.names }}",
        batch: 1,
        max_parallel: 8,
        on_item_failure: "skip"
      })
    })
  )

  it.effect("rejects for_each settings that cannot run, each located and naming what was expected", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf(`
name: each
inputs: { names: [a, b] }
stages:
  - name: greet
    type: hello.greet
    for_each: "names: {{ inputs.names }}"
  - name: shout
    type: hello.shout
    depends_on: [greet]
    for_each: "{{ state.nothing }}"
    batch: 2
    inputs: { text: "{{ item }}" }
  - name: plain
    type: hello.shout
    batch: 3
    inputs: { text: "{{ items }}" }
`)
      expect(issues).toEqual([
        `pipelines/test.yaml:7:15: stage "greet": stages[0].for_each: expected one template of a list from inputs, state or ledger, such as "{{ state.payloads }}"; found "names: {{ inputs.names }}"`,
        `pipelines/test.yaml:13:21: stage "shout": stages[1].inputs.text: {{ item }}: a stage with batch 2 has several items per task; use {{ items }}`,
        `pipelines/test.yaml:11:15: stage "shout": stages[1].for_each: {{ state.nothing }}: no stage upstream of "shout" writes the state slot "nothing" (upstream slots: greeting)`,
        `pipelines/test.yaml:17:21: stage "plain": stages[2].inputs.text: {{ items }}: only a for_each stage has items`,
        `pipelines/test.yaml:16:12: stage "plain": stages[2].batch: batch applies only to a stage with for_each`
      ])
      const zero = yield* failureOf("name: z\nstages:\n  - { name: a, type: hello.greet, for_each: '{{ inputs.x }}', batch: 0 }\n")
      expect(zero.join("\n")).toMatch(/stages\[0\]\.batch: .*greater than 0/)
      const negative = yield* failureOf(
        "name: z\nstages:\n  - { name: a, type: hello.greet, for_each: '{{ inputs.x }}', max_parallel: 1.5 }\n"
      )
      expect(negative.join("\n")).toMatch(/stages\[0\]\.max_parallel: .*integer/)
    })
  )

  it.effect("resolves core stage types by their short names as well as their full names", () =>
    Effect.gen(function* () {
      const loaded = yield* load(`
name: short
stages:
  - name: ingest
    type: ingest
  - name: parse
    type: core/core.parse
    depends_on: [ingest]
`)
      expect([...loaded.stages.values()].map((stage) => stage.metadata.type)).toEqual(["core/core.ingest", "core/core.parse"])
    })
  )

  it.effect("applies a stage's metadata override, checked like a registration", () =>
    Effect.gen(function* () {
      const loaded = yield* load(`
name: override
stages:
  - name: greet
    type: hello.greet
    metadata: { stateKey: salutation }
  - name: shout
    type: hello.shout
    depends_on: [greet]
    inputs: { text: "{{ state.salutation }}" }
`)
      expect(loaded.stages.get("greet")?.metadata.stateKey).toBe("salutation")
      expect(loaded.stages.get("shout")?.metadata.stateKey).toBe("shouted")
      const issues = yield* failureOf(`
name: bad-override
stages:
  - name: greet
    type: hello.greet
    metadata: { stateKey: "not an identifier", output: unpack }
  - name: shout
    type: hello.shout
    metadata: { count: "length(" }
`)
      expect(issues).toEqual([
        `pipelines/test.yaml:6:27: stage "greet": stages[0].metadata.stateKey: metadata override: expected an identifier (letters, digits, _; not starting with a digit), found "not an identifier"`,
        `pipelines/test.yaml:9:24: stage "shout": stages[1].metadata.count: metadata override: expected none, one, length, length(path), field(path) or a sum of those joined with +, found "length("`
      ])
    })
  )

  it.effect("checks the summary's templates: slots some stage writes, inputs the run has, known roots", () =>
    Effect.gen(function* () {
      const issues = yield* failureOf(`
name: summary
stages:
  - name: greet
    type: hello.greet
summary:
  greeting: "{{ state.greeting }}"
  missing slot: "{{ state.nothing }}"
  missing input: "{{ inputs.who }}"
  bad root: "{{ secrets.TOKEN }}"
`)
      expect(issues).toEqual([
        `pipelines/test.yaml:8:17: summary.missing slot: {{ state.nothing }}: no stage writes the state slot "nothing" (slots: greeting)`,
        `pipelines/test.yaml:9:18: summary.missing input: {{ inputs.who }}: the run has no input "who" (inputs: none)`,
        `pipelines/test.yaml:10:13: summary.bad root: {{ secrets.TOKEN }}: expected a reference to state, inputs, ledger or run`
      ])
    })
  )
})
