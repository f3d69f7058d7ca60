import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { withConsoleMasking } from "../../../../services/executor/internal/consoleMasking.ts"
import { makeMasker } from "../../../../schemas/SecretMask.ts"
import { leaks } from "../../../support/secretLeaks.ts"

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
