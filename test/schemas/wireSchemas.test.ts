import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { catalog } from "../../schemas/Catalog.ts"
import { decode, encodeJson, MalformedMessageError, TypeHeader } from "../../schemas/Codec.ts"

const metadata = {
  type: "hello.greet",
  version: "1.0.0",
  description: "Greets someone",
  plugin: "hello",
  stateKey: "greeting",
  output: "set",
  count: "one",
  dependencies: [],
  runtime: "inline",
  timeoutMs: 30000
}

const registered = { metadata, pool: "builtin", online: true, registeredAt: 1700000000000 }

/** A valid payload of each schema, and an invalid one with the path the error must name. */
const examples: Record<string, { readonly valid: unknown; readonly invalid: unknown; readonly path: string }> = {
  StageMetadata: {
    valid: { ...metadata, stateKey: ["entities", "claims"], output: "unpack", count: "length(entities) + length(claims)" },
    invalid: { ...metadata, stateKey: "2fast" },
    path: "stateKey"
  },
  StageRegistration: {
    valid: { version: 1, pool: "builtin", executorId: "exec-1", runtime: "inline", stages: [metadata] },
    invalid: { version: 1, pool: "builtin", executorId: "exec-1", runtime: "vm", stages: [] },
    path: "runtime"
  },
  RegistrationReply: {
    valid: {
      version: 1,
      decisions: [
        { type: "hello.greet", accepted: true },
        { type: "bad", accepted: false, rejection: { code: "conflict", path: "stages[1].type", message: "owned by acme" } }
      ]
    },
    invalid: { version: 1, decisions: [{ type: "bad", accepted: false, rejection: { code: "nope", path: "", message: "" } }] },
    path: "decisions[0].rejection.code"
  },
  StageDeregistration: {
    valid: {
      version: 1,
      pool: "process",
      executorId: "exec-1",
      plugin: "examples/hello-process",
      types: ["examples/hello-process.greet"],
      reason: "shutdown"
    },
    invalid: { version: 1, pool: "process", executorId: "exec-1", plugin: "examples/hello-process", types: [], reason: "bored" },
    path: "reason"
  },
  DeregistrationReply: {
    valid: {
      version: 1,
      decisions: [
        { type: "examples/hello-process.greet", removed: true },
        { type: "acme/http.request", removed: false, kept: { code: "still-served", message: "replica exec-2 of pool process serves it" } }
      ]
    },
    invalid: { version: 1, decisions: [{ type: "x", removed: false, kept: { code: "tired", message: "" } }] },
    path: "decisions[0].kept.code"
  },
  Heartbeat: {
    valid: { version: 1, pool: "builtin", executorId: "exec-1", slots: 4, inFlight: 1, types: ["hello.greet"] },
    invalid: { version: 1, pool: "builtin", executorId: "exec-1", slots: 1.5, inFlight: 0 },
    path: "slots"
  },
  HeartbeatReply: { valid: { version: 1, unknown: ["hello.greet"] }, invalid: { version: 1, unknown: "hello.greet" }, path: "unknown" },
  StageListRequest: { valid: { version: 1 }, invalid: { version: 2 }, path: "version" },
  StageListReply: {
    valid: { version: 1, stages: [registered] },
    invalid: { version: 1, stages: [{ ...registered, metadata: { ...metadata, version: "1.0" } }] },
    path: "stages[0].metadata.version"
  },
  StageResolveRequest: { valid: { version: 1, types: ["hello.greet"] }, invalid: { version: 1, types: [7] }, path: "types[0]" },
  StageResolveReply: {
    valid: { version: 1, found: [registered], missing: [{ type: "helo.greet", suggestions: ["hello.greet"] }] },
    invalid: { version: 1, found: [], missing: [{ type: "x" }] },
    path: "missing[0].suggestions"
  },
  TaskRun: {
    valid: {
      version: 1,
      taskId: "t-1",
      runId: "r-1",
      stage: "greet",
      stageType: "hello.greet",
      attempt: 1,
      inputs: { name: "Ada", auth: "Bearer {{ secrets.TOKEN }}" },
      timeoutMs: 1000,
      replyTo: "task.result.adhoc-t-1",
      templates: [{ path: ["auth"], parts: ["Bearer ", { root: "secrets", key: "TOKEN" }] }]
    },
    invalid: { version: 1, taskId: "t-1", runId: "r-1", stage: "greet", stageType: "hello.greet", inputs: {} },
    path: "attempt"
  },
  TaskResult: {
    valid: {
      version: 1,
      taskId: "t-1",
      runId: "r-1",
      stage: "greet",
      stageType: "hello.greet",
      attempt: 2,
      executorId: "exec-1",
      pool: "builtin",
      status: "failed",
      error: { tag: "StageTimeoutError", message: "timed out after 1000 ms", retryable: true },
      durationMs: 1000.5
    },
    invalid: {
      version: 1,
      taskId: "t-1",
      runId: "r-1",
      stage: "greet",
      stageType: "hello.greet",
      attempt: 1,
      executorId: "exec-1",
      pool: "builtin",
      status: "failed",
      error: { tag: "StageError", message: "boom" },
      durationMs: 3
    },
    path: "error.retryable"
  },
  TaskCancel: { valid: { version: 1, runId: "r-1", reason: "operator" }, invalid: { version: 1, runId: 7 }, path: "runId" },
  TaskCancelled: {
    valid: { version: 1, runId: "r-1", executorId: "exec-1", pool: "builtin", taskIds: ["r-1.greet"] },
    invalid: { version: 1, runId: "r-1", executorId: "exec-1", pool: "builtin", taskIds: "r-1.greet" },
    path: "taskIds"
  },
  RunSubmit: {
    valid: { version: 1, file: "hello.yaml", text: "name: hello\nstages: []\n", inputs: { who: "Ada" }, runId: "r-1" },
    invalid: { version: 1, file: "hello.yaml", text: 42, inputs: {} },
    path: "text"
  },
  RunSubmitReply: {
    valid: {
      version: 1,
      issues: [{ file: "p.yaml", line: 3, column: 5, stage: "greet", path: "stages[0].type", message: "unknown stage type" }]
    },
    invalid: { version: 1, issues: [{ file: "p.yaml", line: "3", column: 5, path: "", message: "" }] },
    path: "issues[0].line"
  },
  RunCancel: { valid: { version: 1, runId: "r-1", reason: "operator" }, invalid: { version: 1 }, path: "runId" },
  RunCancelReply: {
    valid: { version: 1, runId: "r-1", cancelled: true, status: "cancelled", stopped: ["r-1.greet"] },
    invalid: { version: 1, runId: "r-1", cancelled: "yes", status: "cancelled" },
    path: "cancelled"
  },
  RunEvent: {
    valid: { version: 1, runId: "r-1", seq: 7, at: 1700000000000, kind: "run.finished", status: "succeeded", state: { greeting: "hi" } },
    invalid: { version: 1, runId: "r-1", seq: 7, at: 1700000000000, kind: "run.finished", status: "exploded", state: {} },
    path: "status"
  },
  LedgerUpdate: {
    valid: { version: 1, runId: "r-1", fields: { approved: true, by: { name: "ops" } }, source: "review-ui" },
    invalid: { version: 1, runId: "r-1", fields: [] },
    path: "fields"
  },
  EndpointError: {
    valid: { _tag: "ServiceUnavailableError", subject: "stage.list", operation: "kv.get", message: "timeout" },
    invalid: { _tag: "ServiceUnavailableError", subject: "stage.list", operation: 7, message: "timeout" },
    path: "operation"
  },
  LedgerUpdateReply: {
    valid: { version: 1, runId: "r-1", applied: false, status: "failed" },
    invalid: { version: 1, runId: "r-1", applied: "yes", status: "failed" },
    path: "applied"
  },
  Pipeline: {
    valid: {
      name: "hello",
      inputs: { who: "world" },
      stages: [
        { name: "greet", type: "hello.greet", inputs: { name: "{{ inputs.who }}" }, retries: { max_attempts: 3, backoff_ms: 100 } },
        { name: "shout", type: "hello.shout", depends_on: ["greet"], timeout_ms: 5000 }
      ]
    },
    invalid: {
      name: "hello",
      stages: [
        { name: "greet", type: "hello.greet" },
        { name: "2 bad", type: "x" }
      ]
    },
    path: "stages[1].name"
  },
  RunRecord: {
    valid: {
      version: 1,
      runId: "r1",
      file: "hello.yaml",
      pipeline: { name: "hello", stages: [{ name: "greet", type: "hello.greet" }] },
      inputs: { name: "Ada" },
      status: "running",
      state: {},
      ledger: {},
      types: {
        "hello.greet": {
          type: "hello.greet",
          version: "1.0.0",
          description: "Greets someone by name.",
          plugin: "hello",
          stateKey: "greeting",
          output: "set",
          count: "one",
          dependencies: [],
          runtime: "inline",
          timeoutMs: 30000
        }
      },
      stages: {
        greet: {
          name: "greet",
          type: "hello.greet",
          pool: "hello",
          status: "dispatched",
          attempt: 1,
          taskId: "r1.greet"
        }
      },
      seq: 2,
      createdAt: 1
    },
    invalid: {
      version: 1,
      runId: "r1",
      file: "x",
      pipeline: { name: "x", stages: [] },
      inputs: {},
      status: "paused",
      state: {},
      ledger: {},
      types: {},
      stages: {},
      seq: 0,
      createdAt: 1
    },
    path: "status"
  },
  BlobRef: {
    valid: { $blob: `sha256:${"0123456789abcdef".repeat(4)}`, size: 123456, mediaType: "application/json", length: 40 },
    invalid: { $blob: "sha256:ABC", size: 12, mediaType: "application/json" },
    path: "$blob"
  },
  Plugin: {
    valid: {
      name: "http",
      namespace: "acme",
      version: "1.0.0",
      description: "HTTP requests",
      runtime: "process",
      entry: "./dist/index.js",
      stages: [
        { name: "request", description: "Sends a request", output: "set", count: "one", stateKey: "response", timeout: "30 seconds" }
      ],
      capabilities: { network: true, mounts: [{ path: "/data", mode: "ro" }], secrets: ["TOKEN"], env: ["HTTP_PROXY"] },
      permission: "trusted"
    },
    invalid: {
      name: "http",
      namespace: "acme",
      version: "1.0.0",
      description: "HTTP requests",
      runtime: "process",
      entry: "./dist/index.js",
      stages: [{ name: "request", description: "Sends a request", output: "set", count: "lots" }]
    },
    path: "stages[0].count"
  }
}

const decodeEntry = (entry: (typeof catalog)[number], payload: unknown) =>
  decode(
    entry.schema,
    entry.type ?? entry.name
  )({
    subject: `test.${entry.name}`,
    data: encodeJson(payload),
    headers: entry.type === undefined ? {} : { [TypeHeader]: entry.type }
  })

describe("wire schemas", () => {
  it("have an example for every catalog entry", () => {
    assert.deepStrictEqual(
      catalog.map((entry) => entry.name).filter((name) => examples[name] === undefined),
      []
    )
  })

  for (const entry of catalog) {
    const example = examples[entry.name]!

    it.effect(`${entry.name} decodes a valid message`, () =>
      Effect.gen(function* () {
        const value = yield* decodeEntry(entry, example.valid)
        // A class decodes to an instance of itself; a plain struct (BlobRef, RunRecord) to the same fields,
        // which encode back to the message (its nested classes decode to instances); a union (EndpointError)
        // to one of its members.
        if (entry.schema.ast._tag === "Declaration") assert.instanceOf(value, entry.schema as unknown as new (...args: never) => unknown)
        else if (entry.schema.ast._tag === "Objects") assert.deepStrictEqual(Schema.encodeUnknownSync(entry.schema)(value), example.valid)
        else assert.strictEqual((value as { readonly _tag?: unknown })._tag, (example.valid as { readonly _tag?: unknown })._tag)
      })
    )

    it.effect(`${entry.name} rejects an invalid message naming the field ${example.path}`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(decodeEntry(entry, example.invalid))
        assert.instanceOf(error, MalformedMessageError)
        assert.strictEqual(error.subject, `test.${entry.name}`)
        assert.strictEqual(error.path, example.path)
        assert.include(error.message, entry.type ?? entry.name)
      })
    )
  }

  it.effect("rejects a message whose type header names another schema", () =>
    Effect.gen(function* () {
      const runEvent = catalog.find((entry) => entry.name === "RunEvent")!
      const error = yield* Effect.flip(
        decode(
          runEvent.schema,
          "RunEvent/1"
        )({
          subject: "run.event.r-1",
          data: encodeJson(examples["RunEvent"]!.valid),
          headers: { [TypeHeader]: "TaskResult/1" }
        })
      )
      assert.strictEqual(error.path, `headers.${TypeHeader}`)
      assert.include(error.message, "TaskResult/1")
    })
  )
})
