import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadPipeline } from "../../../services/scheduler/PipelineLoader.ts"
import { formatIssue } from "../../../services/scheduler/PipelineError.ts"
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
        `pipelines/test.yaml:7:72: stage "greet": stages[0].inputs.odd: {{ foo.bar }}: unknown template root "foo"; expected one of inputs, state, ledger, run, vars, secrets`,
        `pipelines/test.yaml:11:21: stage "shout": stages[1].inputs.text: {{ state.shouted }}: no stage upstream of "shout" writes the state slot "shouted" (upstream slots: greeting)`,
        `pipelines/test.yaml:11:109: stage "shout": stages[1].inputs.key: {{ secrets.TOKEN }}: stage type "hello.shout" does not declare the secret "TOKEN" (declared: none)`
      ])
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
