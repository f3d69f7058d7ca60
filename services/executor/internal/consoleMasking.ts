/**
 * Masking what an inline stage writes to the executor's own stdout and
 * stderr (`console.log`, `process.stdout.write`) while it holds secrets.
 *
 * Inline stages share the process and its two streams, and several tasks
 * may run at once, so a line cannot be told apart by the task that wrote
 * it. While at least one task holding secrets runs, every write to stdout
 * and stderr passes through the masks of all such tasks running then; the
 * streams are left as they were once none runs. A write the stage makes
 * after its task ended (a timer it left behind) is not masked, and a write
 * split in two may carry a secret split in two.
 */
import { Effect } from "effect"
import type { Mask } from "@switchyard/schemas/SecretMask"

const active = new Map<symbol, Mask>()
let restore: (() => void) | undefined

const masked = (text: string): string => {
  let out = text
  for (const mask of active.values()) out = mask(out)
  return out
}

type Write = NodeJS.WriteStream["write"]

const patch = (stream: NodeJS.WriteStream): (() => void) => {
  const original = stream.write
  const write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: Array<unknown>): boolean {
    if (active.size > 0) {
      const text =
        typeof chunk === "string"
          ? chunk
          : chunk instanceof Uint8Array
            ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString("utf8")
            : undefined
      if (text !== undefined) {
        const out = masked(text)
        // A string is written with the encoding the caller gave; the masked text of a buffer is UTF-8 as it was.
        if (out !== text)
          return (original as (...args: Array<unknown>) => boolean).call(
            this,
            out,
            ...(typeof chunk === "string" ? rest : rest.filter((arg) => typeof arg === "function"))
          )
      }
    }
    return (original as (...args: Array<unknown>) => boolean).call(this, chunk, ...rest)
  }
  stream.write = write as Write
  return () => {
    if (stream.write === (write as Write)) stream.write = original
  }
}

/** Runs `effect` with its secrets masked out of everything written to stdout and stderr meanwhile. */
export const withConsoleMasking =
  (mask: Mask) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const key = Symbol("task")
        active.set(key, mask)
        if (restore === undefined) {
          const stdout = patch(process.stdout)
          const stderr = patch(process.stderr)
          restore = () => {
            stderr()
            stdout()
          }
        }
        return key
      }),
      () => effect,
      (key) =>
        Effect.sync(() => {
          active.delete(key)
          if (active.size === 0 && restore !== undefined) {
            restore()
            restore = undefined
          }
        })
    )
