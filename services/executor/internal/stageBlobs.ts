/**
 * `ctx.blobs`: the executor's blob store as a stage sees it, with promises
 * and async iterables instead of effects, made once per executor.
 */
import { Effect, Stream } from "effect"
import type { BlobStore } from "@switchyard/bus/BlobStore"
import type { StageBlobs } from "@switchyard/schemas/Stage"

const isBytes = (data: Uint8Array | AsyncIterable<Uint8Array>): data is Uint8Array => data instanceof Uint8Array

/** The stage-facing view of `store`. */
export const makeStageBlobs = (store: BlobStore["Service"]): StageBlobs => ({
  put: (data, { mediaType }) =>
    Effect.runPromise(
      isBytes(data)
        ? store.put(data, { mediaType })
        : store.putStream(
            Stream.fromAsyncIterable(data, (error) => error),
            { mediaType }
          )
    ),
  get: (ref) => Effect.runPromise(store.get(ref)),
  stream: (ref) => Stream.toAsyncIterable(store.stream(ref))
})
