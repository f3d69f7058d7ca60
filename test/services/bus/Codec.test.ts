import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { decode, decodeExit, encode, encodeJson, MalformedMessageError, TypeHeader } from "../../../schemas/Codec.ts"
import { TaskRun } from "../../../schemas/Task.ts"

const task = { version: 1, taskId: "t-1", runId: "r-1", stage: "greet", stageType: "hello.greet", attempt: 1, inputs: { name: "Ada" } }
const message = (payload: Uint8Array, type?: string) => ({
  subject: "task.run.hello",
  data: payload,
  headers: type === undefined ? {} : { [TypeHeader]: type }
})

describe("Codec", () => {
  it("hands out one decoder per schema and type, whoever asks", () => {
    assert.strictEqual(decode(TaskRun, "TaskRun/1"), decode(TaskRun, "TaskRun/1"))
    assert.notStrictEqual(decode(TaskRun, "TaskRun/1"), decode(TaskRun, "TaskRun/2"))
  })

  it.effect("accepts a message declaring another version of the same type, or none", () =>
    Effect.gen(function* () {
      const decodeTask = decode(TaskRun, "TaskRun/1")
      for (const type of ["TaskRun/1", "TaskRun/2", "TaskRun", undefined]) {
        const value = yield* decodeTask(message(encodeJson(task), type))
        assert.instanceOf(value, TaskRun)
        assert.strictEqual(value.taskId, "t-1")
      }
      const error = yield* Effect.flip(decodeTask(message(encodeJson(task), "TaskRunner/1")))
      assert.strictEqual(error.path, `headers.${TypeHeader}`)
    })
  )

  it("gives the outcome as an Exit, naming the subject of bytes that are not JSON", () => {
    const decodeTask = decodeExit(TaskRun, "TaskRun/1")
    const ok = decodeTask(message(encodeJson(task), "TaskRun/1"))
    assert.isTrue(Exit.isSuccess(ok) && ok.value.stageType === "hello.greet")
    const garbled = decodeTask(message(new TextEncoder().encode('{"version":'), "TaskRun/1"))
    assert.isTrue(Exit.isFailure(garbled))
    const error = Exit.isFailure(garbled) ? garbled.cause.reasons[0] : undefined
    assert.isTrue(error?._tag === "Fail" && error.error instanceof MalformedMessageError)
    if (error?._tag === "Fail") {
      assert.strictEqual(error.error.subject, "task.run.hello")
      assert.strictEqual(error.error.path, "")
      assert.include(error.error.message, "invalid JSON")
    }
    const wrong = decodeTask(message(encodeJson({ ...task, attempt: "one" }), "TaskRun/1"))
    assert.isTrue(Exit.isFailure(wrong))
  })

  it("encodes a value with its schema into the JSON of its encoded form", () => {
    const value = Schema.decodeUnknownSync(TaskRun)(task)
    const encoded = encode(TaskRun, "TaskRun/1", value)
    assert.deepStrictEqual(encoded.headers, { [TypeHeader]: "TaskRun/1" })
    assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(encoded.data)), task)
  })
})
