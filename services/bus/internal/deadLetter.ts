/**
 * The dead-letter record both adapters publish when a message is terminated
 * or exhausts its deliveries: the stream position, the original subject,
 * payload (base64) and headers, and why it died.
 */
import type { DeadLetter, Headers } from "../Bus.ts"
import { encodeJson } from "@switchyard/schemas/Codec"

/** Reason recorded when a message ran out of deliveries. */
export const maxDeliveriesReason = "max deliveries exceeded"

/** Reason recorded for a terminated message. */
export const terminatedReason = (reason: string): string => `terminated: ${reason}`

/** Encodes a payload for the `data` field. */
export const toBase64 = (data: Uint8Array): string => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64")

/** Builds the JSON bytes of a dead letter. */
export const encodeDeadLetter = (options: {
  readonly stream: string
  readonly consumer: string
  readonly seq: number
  readonly subject: string
  readonly deliveries: number
  readonly reason: string
  readonly data: Uint8Array | undefined
  readonly headers: Headers
}): Uint8Array => {
  const record: DeadLetter = {
    stream: options.stream,
    consumer: options.consumer,
    seq: options.seq,
    subject: options.subject,
    deliveries: options.deliveries,
    reason: options.reason,
    ...(options.data === undefined ? {} : { data: toBase64(options.data) }),
    headers: options.headers
  }
  return encodeJson(record)
}
