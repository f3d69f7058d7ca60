/**
 * NATS subject patterns: tokens separated by `.`, `*` matching exactly one
 * token and a final `>` matching one or more. Compiled matchers avoid
 * splitting literal subjects on the hot path.
 */

/** Tests a concrete subject against a compiled pattern. */
export type SubjectMatcher = (subject: string) => boolean

const dot = 46
const star = 42
const greater = 62

/** True for a one-character token that is `*` or `>` between `start` and `end`. */
const isWildcardToken = (subject: string, start: number, end: number): boolean => {
  if (end - start !== 1) return false
  const c = subject.charCodeAt(start)
  return c === star || c === greater
}

/** True when the subject contains a wildcard token. */
export const hasWildcard = (subject: string): boolean => {
  let start = 0
  for (let i = 0; i <= subject.length; i++) {
    if (i < subject.length && subject.charCodeAt(i) !== dot) continue
    if (isWildcardToken(subject, start, i)) return true
    start = i + 1
  }
  return false
}

// Walks the subject's tokens in place (no split: this runs on every routed publish).
const tokenMatch = (pattern: ReadonlyArray<string>, subject: string): boolean => {
  let start = 0
  for (let i = 0; i < pattern.length; i++) {
    const token = pattern[i]!
    // `start <= subject.length` means at least one (possibly empty) token is left.
    if (token === ">") return start <= subject.length
    if (start > subject.length) return false
    let end = subject.indexOf(".", start)
    if (end === -1) end = subject.length
    if (token !== "*" && !(end - start === token.length && subject.startsWith(token, start))) return false
    start = end + 1
  }
  return start > subject.length
}

/** Compiles a pattern (a literal subject compiles to string equality). */
export const compileSubject = (pattern: string): SubjectMatcher => {
  if (!hasWildcard(pattern)) return (subject) => subject === pattern
  const tokens = pattern.split(".")
  const starFree = !tokens.includes("*")
  if (starFree && tokens[tokens.length - 1] === ">") {
    const prefix = pattern.slice(0, -1)
    return (subject) => subject.length > prefix.length && subject.startsWith(prefix)
  }
  return (subject) => tokenMatch(tokens, subject)
}

/** True when the pattern matches the subject. */
export const subjectMatches = (pattern: string, subject: string): boolean => compileSubject(pattern)(subject)

/** True when some concrete subject would match both patterns. */
export const subjectsCollide = (left: string, right: string): boolean => {
  const a = left.split(".")
  const b = right.split(".")
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x === ">" || y === ">") return x !== undefined && y !== undefined
    if (x === undefined || y === undefined) return false
    if (x !== "*" && y !== "*" && x !== y) return false
  }
  return true
}

const whitespace = /[\s]/

/** A subject usable for publishing: non-empty tokens, no wildcards, no spaces. */
export const isValidPublishSubject = (subject: string): boolean => {
  if (subject.length === 0) return false
  // One pass without allocating: this runs on every publish.
  let start = 0
  for (let i = 0; i <= subject.length; i++) {
    const c = i < subject.length ? subject.charCodeAt(i) : dot
    if (c === dot) {
      if (i === start || isWildcardToken(subject, start, i)) return false
      start = i + 1
    } else if (c === 32 || (c >= 9 && c <= 13)) {
      return false
    } else if (c >= 127) {
      // Unicode whitespace is the regex's to judge.
      return !whitespace.test(subject) && subject.split(".").every((t) => t.length > 0 && t !== "*" && t !== ">")
    }
  }
  return true
}

/** A subject usable for subscribing: non-empty tokens, `>` only last. */
export const isValidSubscribeSubject = (subject: string): boolean => {
  if (subject.length === 0 || whitespace.test(subject)) return false
  const tokens = subject.split(".")
  return tokens.every((t, i) => t.length > 0 && (t !== ">" || i === tokens.length - 1))
}
