import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { BlobStore } from "../../../services/bus/BlobStore.ts"
import { storeList } from "../../../services/bus/BlobList.ts"
import * as MemoryBlobStore from "../../../services/bus/MemoryBlobStore.ts"
import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { digestOf, jsonMediaType } from "../../../schemas/Blob.ts"
import { makeNames, Subjects } from "../../../schemas/Subjects.ts"
import { RunGc, RunStore } from "../../../services/scheduler/index.ts"
import { runGcSuite } from "./RunGcSuite.ts"

runGcSuite("the in-memory bus", () => MemoryBus.layer)

const encoder = new TextEncoder()
const hour = 60 * 60 * 1000

describe("blob collection beside a combining stage", () => {
  it.live("keeps old segments that a list stored within the grace period names, though no record names the list yet", () =>
    Effect.gen(function* () {
      const entries = new Map<string, MemoryBlobStore.MemoryBlob>()
      const blobs = MemoryBlobStore.make({ entries })
      const now = yield* Clock.currentTimeMillis
      const put = (value: unknown) =>
        blobs.put(encoder.encode(JSON.stringify(value)), {
          mediaType: jsonMediaType,
          length: Array.isArray(value) ? value.length : undefined
        })
      // Outputs the executors stored hours ago, and one nothing names.
      const segments = [yield* put([1, 2]), yield* put([3, 4])]
      const unnamed = yield* put({ nobody: "names this" })
      for (const ref of [...segments, unnamed]) {
        const hex = digestOf(ref)
        entries.set(hex, { ...entries.get(hex)!, storedAt: now - 3 * hour })
      }
      // The list the scheduler just wrote from them, before it saves the record naming it.
      const combined = yield* storeList(blobs, segments)

      const context = yield* Layer.build(
        RunGc.layer.pipe(
          Layer.provide(RunStore.layer),
          Layer.provide(Layer.mergeAll(MemoryBus.layer, Layer.succeed(BlobStore, blobs), Layer.succeed(Subjects, makeNames("gc"))))
        )
      )
      const report = yield* Context.get(context, RunGc).collect({ retention: "7 days", grace: "1 hour", now })

      expect(report).toMatchObject({ blobsDeleted: 1, blobsKept: 3, bytesFreed: unnamed.size })
      for (const ref of [combined, ...segments]) expect(Option.isSome(yield* blobs.stat(ref))).toBe(true)
      expect(Option.isNone(yield* blobs.stat(unnamed))).toBe(true)
    }).pipe(Effect.scoped)
  )
})
