/**
 * Key and bucket name rules of JetStream KV, checked by both adapters before
 * a call so an invalid key is the same `BusError` (code `INVALID_KEY`)
 * everywhere, whatever the client library would have thrown.
 */
import { BusError } from "../BusError.ts"

const keyPattern = /^[-/=.\w]+$/
const filterPattern = /^[-/=.>*\w]+$/
const bucketPattern = /^[-\w]+$/

const dotsOk = (key: string) => !key.startsWith(".") && !key.endsWith(".") && !key.includes("..")

/** A key that can be written. */
export const isValidKey = (key: string): boolean => keyPattern.test(key) && dotsOk(key)

/** A key filter for watch (may hold `*` and `>` tokens). */
export const isValidKeyFilter = (filter: string): boolean => filterPattern.test(filter) && dotsOk(filter)

/** A bucket name. */
export const isValidBucket = (bucket: string): boolean => bucketPattern.test(bucket)

/** The error for a key that breaks the rules. */
export const invalidKey = (bucket: string, operation: string, key: string): BusError =>
  new BusError({ operation, subject: key, code: "INVALID_KEY", message: `invalid key "${key}" in bucket ${bucket}` })

/** The error for a bucket name that breaks the rules. */
export const invalidBucket = (bucket: string): BusError =>
  new BusError({ operation: "kv", subject: bucket, code: "BAD_NAME", message: `invalid bucket name "${bucket}"` })
