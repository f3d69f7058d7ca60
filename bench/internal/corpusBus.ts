/**
 * What the corpus benchmark sees on the bus during a run over NATS: a plain
 * nats.js connection subscribed to `>` keeps, per subject kind, the largest
 * payload, the message count and the bytes; the run records are the puts on
 * the runs bucket's subjects (`$KV.<runs bucket>.<run id>`), so the largest
 * of them is the largest run record the scheduler wrote. After the run the
 * record is also read back from the bucket. Subject kinds drop what varies
 * per run or pool: `task.result.<run id>` is `task.result`, `$KV.<bucket>.<key>`
 * is `$KV.<bucket>`, every inbox is `_INBOX`.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { Kvm } from "@nats-io/kv"
import { makeNames } from "../../schemas/Subjects.ts"

/** Messages of one subject kind. */
export interface KindStats {
  readonly largest: number
  readonly messages: number
  readonly bytes: number
}

/** A running monitor. */
export interface BusMonitor {
  /** Subject kind → what passed, so far. */
  readonly kinds: () => ReadonlyMap<string, KindStats>
  /** The largest run record put so far, in bytes. */
  readonly largestRunRecord: () => number | undefined
  /** The stored record of `runId` now, in bytes (undefined when absent). */
  readonly storedRunRecord: (runId: string) => Promise<number | undefined>
  readonly close: () => Promise<void>
}

/** The runs bucket of the default (unprefixed) deployment the benchmark starts. */
export const runsBucket = makeNames("").buckets.runs

/** The kind of a subject, for grouping. */
export const subjectKind = (subject: string): string => {
  const tokens = subject.split(".")
  if (tokens[0]!.startsWith("_INBOX")) return "_INBOX"
  if (tokens[0] === "$KV" || tokens[0] === "$JS") return tokens.slice(0, 2).join(".")
  return tokens.slice(0, 2).join(".")
}

/** Connects and subscribes to every subject; resolves once the server has the subscription. */
export const monitorBus = async (url: string): Promise<BusMonitor> => {
  const nc: NatsConnection = await connect({ servers: url, name: "corpus-bench-monitor" })
  const kinds = new Map<string, { largest: number; messages: number; bytes: number }>()
  const recordPrefix = `$KV.${runsBucket}.`
  let largestRunRecord: number | undefined
  nc.subscribe(">", {
    callback: (error, message) => {
      if (error !== null) return
      const size = message.data.length
      const kind = subjectKind(message.subject)
      const stats = kinds.get(kind) ?? { largest: 0, messages: 0, bytes: 0 }
      stats.largest = Math.max(stats.largest, size)
      stats.messages++
      stats.bytes += size
      kinds.set(kind, stats)
      if (message.subject.startsWith(recordPrefix)) largestRunRecord = Math.max(largestRunRecord ?? 0, size)
    }
  })
  await nc.flush()
  return {
    kinds: () => kinds,
    largestRunRecord: () => largestRunRecord,
    storedRunRecord: async (runId) => {
      try {
        const kv = await new Kvm(nc).open(runsBucket)
        const entry = await kv.get(runId)
        return entry === null || entry.operation !== "PUT" ? undefined : entry.value.length
      } catch {
        return undefined
      }
    },
    close: async () => {
      await nc.drain().catch(() => nc.close())
    }
  }
}
