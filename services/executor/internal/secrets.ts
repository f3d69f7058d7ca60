/**
 * Masking every form of a resolved secret out of what leaves the executor.
 */
import { Redacted, Result } from "effect"

/** What replaces a secret. */
export const redactedMark = "[redacted]"

/** A function that masks every form of the given secrets in a text. */
export const makeMasker = (secrets: Iterable<Redacted.Redacted<string>>): Mask => {
  const forms = new Set<string>()
  for (const secret of secrets) {
    const raw = Redacted.value(secret)
    if (raw.length === 0) continue
    forms.add(raw)
    forms.add(Buffer.from(raw).toString("base64"))
    forms.add(JSON.stringify(raw).slice(1, -1))
    for (const line of raw.split(/\r?\n/)) if (line.trim().length >= 4) forms.add(line)
  }
  // Longest first, so a value is masked whole before any of its lines.
  const ordered = [...forms].sort((a, b) => b.length - a.length)
  return (text) => {
    let masked = text
    for (const form of ordered) if (masked.includes(form)) masked = masked.split(form).join(redactedMark)
    return masked
  }
}

/** Masks every form of the secrets in one text. */
export type Mask = (text: string) => string

const isPlain = (value: object): boolean => {
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** A copy of `value` with every string (and key) masked; errors keep their name, other objects their JSON form. */
export const maskValue = (value: unknown, mask: Mask): unknown => {
  if (typeof value === "string") return mask(value)
  if (typeof value !== "object" || value === null || Redacted.isRedacted(value)) return value
  if (Array.isArray(value)) return value.map((item) => maskValue(item, mask))
  if (value instanceof Error) {
    const error = new Error(mask(value.message))
    error.name = value.name
    return error
  }
  if (isPlain(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [mask(key), maskValue(item, mask)]))
  // A class instance: its JSON form is masked, and it is replaced only when that held a secret.
  const json = Result.try(() => JSON.stringify(value) as string | undefined)
  if (Result.isFailure(json) || json.success === undefined) return value
  const masked = mask(json.success)
  if (masked === json.success) return value
  const parsed = Result.try((): unknown => JSON.parse(masked))
  return Result.isSuccess(parsed) ? parsed.success : masked
}
