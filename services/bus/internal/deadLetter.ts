/**
 * The dead-letter record both adapters publish when a message is terminated
 * or exhausts its deliveries: the stream position, the original subject,
 * payload (base64, unless the record would pass the server's max payload)
 * and headers, and why it died.
 */
import type { DeadLetter, Headers } from "../Bus.ts"
import { encodeJson } from "@switchyard/schemas/Codec"

/** Reason recorded when a message ran out of deliveries. */
export const maxDeliveriesReason = "max deliveries exceeded"

/** Reason recorded for a terminated message. */
export const terminatedReason = (reason: string): string => `terminated: ${reason}`

/** Encodes a payload for the `data` field. */
export const toBase64 = (data: Uint8Array): string => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64")

/**
 * Builds the JSON bytes of a dead letter. With `maxBytes` (the server's max payload), a record
 * that would pass it is sent without the payload, saying why (`dataOmitted`): the headers, which
 * name the task, still travel, so the message is reported however large it was.
 */
export const encodeDeadLetter = (options: {
  readonly stream: string
  readonly consumer: string
  readonly seq: number
  readonly subject: string
  readonly deliveries: number
  readonly reason: string
  readonly data: Uint8Array | undefined
  readonly headers: Headers
  readonly maxBytes?: number | undefined
}): Uint8Array => {
  const base: DeadLetter = {
    stream: options.stream,
    consumer: options.consumer,
    seq: options.seq,
    subject: options.subject,
    deliveries: options.deliveries,
    reason: options.reason,
    headers: options.headers
  }
  if (options.data === undefined) return encodeJson(base)
  const whole = encodeJson({ ...base, data: toBase64(options.data) })
  if (options.maxBytes === undefined || whole.byteLength <= options.maxBytes) return whole
  return encodeJson({
    ...base,
    dataOmitted: `the payload of ${options.data.byteLength} bytes makes a dead letter of ${whole.byteLength} bytes, over the server's max_payload of ${options.maxBytes}`
  })
}
