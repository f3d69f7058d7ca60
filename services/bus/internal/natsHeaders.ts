/**
 * Conversion between the port's plain header records and nats.js `MsgHdrs`
 * (first value of each key; key case is kept).
 */
import { headers as makeHeaders, type MsgHdrs } from "@nats-io/transport-node"
import type { Headers } from "../Bus.ts"

const none: Headers = Object.freeze({})

/** Plain record of a message's headers. */
export const fromMsgHdrs = (hdrs: MsgHdrs | undefined): Headers => {
  if (hdrs === undefined) return none
  const record: Record<string, string> = {}
  for (const [key, values] of hdrs) {
    const first = values[0]
    if (first !== undefined) record[key] = first
  }
  return record
}

/** nats.js headers for a record; undefined when there is nothing to send. */
export const toMsgHdrs = (record: Headers | undefined): MsgHdrs | undefined => {
  if (record === undefined) return undefined
  const keys = Object.keys(record)
  if (keys.length === 0) return undefined
  const hdrs = makeHeaders()
  for (const key of keys) hdrs.set(key, record[key]!)
  return hdrs
}
