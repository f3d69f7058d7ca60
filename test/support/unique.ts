/**
 * Unique names for tests that share a NATS server: every stream, consumer,
 * bucket and subject a test creates starts with its own prefix.
 */
import { randomUUID } from "node:crypto"

/** A fresh token usable in subjects, stream, consumer and bucket names (`[a-z0-9]`). */
export const uniquePrefix = (label = "t"): string => `${label}${randomUUID().replaceAll("-", "").slice(0, 12)}`
