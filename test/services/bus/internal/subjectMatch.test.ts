import { assert, describe, it } from "@effect/vitest"
import { compileSubject, hasWildcard, isValidPublishSubject } from "../../../../services/bus/internal/subjectMatch.ts"

/** The rules as stated: non-empty tokens, no wildcard token, no whitespace. */
const publishRule = (subject: string) =>
  subject.length > 0 && !/\s/.test(subject) && subject.split(".").every((t) => t.length > 0 && t !== "*" && t !== ">")
const wildcardRule = (subject: string) => subject.split(".").some((t) => t === "*" || t === ">")

/** Token by token: `*` is any one token, a final `>` one or more. */
const matchRule = (pattern: string, subject: string) => {
  const p = pattern.split(".")
  const s = subject.split(".")
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">" && i === p.length - 1) return s.length > i
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false
  }
  return p.length === s.length
}

describe("subject rules", () => {
  it("matches subjects against patterns token by token, with * for one token and a final > for the rest", () => {
    const tokens = ["a", "ab", "*", ">"]
    const subjects = ["a", "ab", "b"]
    const all = (alphabet: ReadonlyArray<string>, length: number): Array<string> =>
      length === 1 ? [...alphabet] : all(alphabet, length - 1).flatMap((prefix) => alphabet.map((t) => `${prefix}.${t}`))
    const patterns = [1, 2, 3].flatMap((length) => all(tokens, length)).filter((p) => !p.slice(0, -1).includes(">"))
    const concrete = [1, 2, 3, 4].flatMap((length) => all(subjects, length))
    for (const pattern of patterns) {
      const matches = compileSubject(pattern)
      for (const subject of concrete) assert.strictEqual(matches(subject), matchRule(pattern, subject), `${pattern} ~ ${subject}`)
    }
    // No valid subject has empty tokens, but a pattern with `*` still counts them as tokens.
    const odd = [1, 2, 3].flatMap((length) => all(["a", ""], length))
    for (const pattern of patterns.filter((p) => p.includes("*"))) {
      const matches = compileSubject(pattern)
      for (const subject of odd)
        assert.strictEqual(matches(subject), matchRule(pattern, subject), `${pattern} ~ ${JSON.stringify(subject)}`)
    }
  })

  it("accepts publish subjects with non-empty, non-wildcard tokens and no whitespace", () => {
    for (const subject of ["a", "task.run.pool", "_INBOX.x1.7", "a.>b", "a.b*", "héllo.wörld"]) {
      assert.isTrue(isValidPublishSubject(subject), subject)
    }
    for (const subject of ["", ".", "a.", ".a", "a..b", "a.*", "a.>", "*", ">", "a b", "a\tb", "a\nb", "a\u00a0b", "a\u2028b", "\u3000"]) {
      assert.isFalse(isValidPublishSubject(subject), JSON.stringify(subject))
    }
  })

  it("judges every short subject exactly as the stated rules do", () => {
    const alphabet = ["a", ".", "*", ">", " ", "\t", "\u00a0", "é", "\u2028", "x>", "*y", "\u0085", "\u0001"]
    let checked = 0
    const visit = (prefix: string, left: number): void => {
      assert.strictEqual(isValidPublishSubject(prefix), publishRule(prefix), JSON.stringify(prefix))
      assert.strictEqual(hasWildcard(prefix), wildcardRule(prefix), JSON.stringify(prefix))
      checked++
      if (left > 0) for (const piece of alphabet) visit(prefix + piece, left - 1)
    }
    visit("", 4)
    assert.isAbove(checked, 30_000)
  })
})
