import { Effect } from "effect"
import { digestOf } from "@switchyard/schemas/Blob"
import * as MemoryBlobStore from "../../../services/bus/MemoryBlobStore.ts"
import { blobStoreSuite, tampered } from "./BlobStoreSuite.ts"

blobStoreSuite(
  "memory",
  Effect.sync(() => {
    const entries = new Map<string, MemoryBlobStore.MemoryBlob>()
    return {
      store: MemoryBlobStore.make({ entries }),
      where: "memory",
      corrupt: (ref) =>
        Effect.suspend(() => {
          const entry = entries.get(digestOf(ref))
          return entry === undefined
            ? Effect.fail(`${ref.$blob} is not in the map`)
            : Effect.sync(() => entries.set(digestOf(ref), { ...entry, bytes: tampered(ref.size) }))
        }),
      leftovers: Effect.succeed(0)
    }
  })
)
