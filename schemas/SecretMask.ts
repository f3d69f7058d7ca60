/**
 * Masking every form of a resolved secret out of what leaves the executor (and a plugin process):
 * the raw value; base64 (standard and URL-safe, whole, and the part that
 * stands for the value at each of the three byte offsets inside a longer
 * encoded text); URL-encoding (percent-escapes in upper and lower case, and
 * the form encoding); hex in lower and upper case; JSON-escaped; and for a
 * multi-line value, each line in each of those forms.
 */
import { Redacted, Result } from "effect"

/** What replaces a secret. */
export const redactedMark = "[redacted]"

/** Derived forms shorter than this are not masked: they would match ordinary text. */
const shortestDerivedForm = 6

/**
 * The text a base64 encoder writes for `bytes` wherever they sit in a longer input: at each of the
 * three byte offsets modulo 3, the characters that depend on these bytes alone (the first and last
 * characters of a group shared with neighbouring bytes are dropped).
 */
const base64Cores = (bytes: Buffer): Array<string> =>
  [0, 1, 2].map((offset) => {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64")
    // Characters of the first group that also carry bits of the padding bytes before.
    const start = offset === 0 ? 0 : offset === 1 ? 2 : 3
    const total = offset + bytes.length
    const rest = total % 3
    const end = Math.floor(total / 3) * 4 + (rest === 0 ? 0 : rest === 1 ? 1 : 2)
    return encoded.slice(start, end)
  })

/** base64 text in the URL-safe alphabet, unpadded. */
const toUrlAlphabet = (base64: string): string => base64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")

/** Every form of one value a stage or library is likely to write: each is masked. */
export const secretForms = (value: string): Array<string> => {
  const bytes = Buffer.from(value)
  const base64 = bytes.toString("base64")
  const cores = base64Cores(bytes)
  const percent = encodeURIComponent(value)
  const derived = [
    base64,
    ...cores,
    toUrlAlphabet(base64),
    ...cores.map(toUrlAlphabet),
    JSON.stringify(value).slice(1, -1),
    percent,
    // Percent-escapes in lower case, and the form encoding (`+` for a space, `*` and friends escaped too).
    percent.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
    new URLSearchParams([["", value]]).toString().slice(1),
    bytes.toString("hex"),
    bytes.toString("hex").toUpperCase()
  ]
  return [value, ...derived.filter((form) => form !== value && form.length >= shortestDerivedForm)]
}

/** A function that masks every form of the given secrets in a text. */
export const makeMasker = (secrets: Iterable<Redacted.Redacted<string>>): Mask => {
  const forms = new Set<string>()
  for (const secret of secrets) {
    const raw = Redacted.value(secret)
    if (raw.length === 0) continue
    for (const form of secretForms(raw)) forms.add(form)
    // Each line of a multi-line value, in each of its forms, as a stage may write one line alone.
    const lines = raw.split(/\r?\n/)
    if (lines.length > 1) for (const line of lines) if (line.trim().length >= 4) for (const form of secretForms(line)) forms.add(form)
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
