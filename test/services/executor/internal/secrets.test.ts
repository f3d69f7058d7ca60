import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { withConsoleMasking } from "../../../../services/executor/internal/consoleMasking.ts"
import { makeMasker } from "../../../../services/executor/internal/secrets.ts"

/** Every encoding a stage might write a secret in, alone and inside longer text at each byte offset. */
const encodings = (secret: string): Array<string> => {
  const out: Array<string> = []
  for (const before of ["", "a", "ab", "abc"]) {
    const bytes = Buffer.from(`${before}${secret}tail!`)
    out.push(bytes.toString("base64"), bytes.toString("base64url"), bytes.toString("hex"), bytes.toString("hex").toUpperCase())
  }
  out.push(
    secret,
    Buffer.from(secret).toString("base64"),
    Buffer.from(secret).toString("base64url"),
    encodeURIComponent(secret),
    encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
    new URLSearchParams({ q: secret }).toString(),
    `https://x.test/?key=${encodeURIComponent(secret)}&b=1`,
    JSON.stringify({ secret }),
    Buffer.from(secret).toString("hex"),
    Buffer.from(secret).toString("hex").toUpperCase()
  )
  return out
}

/** Whether `text` still holds `secret` in any encoding (decoding every base64/hex run it can find). */
const leaks = (text: string, secret: string): boolean => {
  const candidates = [text, decodeURIComponentSafe(text), decodeURIComponentSafe(text.replaceAll("+", " "))]
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}={0,2}/g) ?? []) {
    for (let skip = 0; skip < 4; skip++) {
      candidates.push(
        Buffer.from(run.slice(skip), "base64").toString("latin1"),
        Buffer.from(run.slice(skip), "base64url").toString("latin1")
      )
    }
  }
  for (const run of text.match(/[0-9a-fA-F]{8,}/g) ?? [])
    for (const skip of [0, 1]) candidates.push(Buffer.from(run.slice(skip), "hex").toString("latin1"))
  const needles = [secret, Buffer.from(secret).toString("latin1"), JSON.stringify(secret).slice(1, -1)]
  return candidates.some((candidate) => needles.some((needle) => candidate.includes(needle)))
}

const decodeURIComponentSafe = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

describe("masking secrets", () => {
  const secret = `tok/${randomUUID()}+é ?&=`

  it("masks the raw, base64 (each byte offset, both alphabets), URL-encoded, hex and JSON-escaped forms", () => {
    const mask = makeMasker([Redacted.make(secret)])
    for (const text of encodings(secret)) {
      expect(leaks(text, secret), text).toBe(true)
      const masked = mask(text)
      expect(masked, text).toContain("[redacted]")
      expect(leaks(masked, secret), `${text} -> ${masked}`).toBe(false)
    }
  })

  it("masks each line of a multi-line secret in every form", () => {
    const first = `line-one-${randomUUID()}`
    const second = `line-two-${randomUUID()}`
    const mask = makeMasker([Redacted.make(`${first}\n${second}`)])
    for (const line of [first, second]) for (const text of encodings(line)) expect(leaks(mask(text), line), text).toBe(false)
  })

  it("masks what is written to stdout while a task holding the secret runs, and nothing once it is over", () =>
    Effect.gen(function* () {
      const written: Array<string> = []
      const original = process.stdout.write
      process.stdout.write = ((chunk: string | Uint8Array) => {
        written.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"))
        return true
      }) as typeof process.stdout.write
      try {
        const mask = makeMasker([Redacted.make(secret)])
        yield* Effect.sync(() => {
          process.stdout.write(`console says ${secret}\n`)
          process.stdout.write(Buffer.from(`hex ${Buffer.from(secret).toString("hex")}\n`))
        }).pipe(withConsoleMasking(mask))
        process.stdout.write("after\n")
      } finally {
        process.stdout.write = original
      }
      expect(written).toEqual(["console says [redacted]\n", "hex [redacted]\n", "after\n"])
    }))
})
