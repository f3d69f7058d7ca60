/**
 * NATS subject patterns: tokens separated by `.`, `*` matching exactly one
 * token and a final `>` matching one or more. Compiled matchers avoid
 * splitting literal subjects on the hot path.
 */

/** Tests a concrete subject against a compiled pattern. */
export type SubjectMatcher = (subject: string) => boolean

/** True when the subject contains a wildcard token. */
export const hasWildcard = (subject: string): boolean =>
  subject.split(".").some((token) => token === "*" || token === ">")

const tokenMatch = (pattern: ReadonlyArray<string>, subject: ReadonlyArray<string>): boolean => {
  for (let i = 0; i < pattern.length; i++) {
    const token = pattern[i]
    if (token === ">") return subject.length > i
    if (i >= subject.length) return false
    if (token !== "*" && token !== subject[i]) return false
  }
  return pattern.length === subject.length
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
  return (subject) => tokenMatch(tokens, subject.split("."))
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

/** A subject usable for publishing: non-empty tokens, no wildcards, no spaces. */
export const isValidPublishSubject = (subject: string): boolean =>
  subject.length > 0 && !/[\s]/.test(subject) && subject.split(".").every((t) => t.length > 0 && t !== "*" && t !== ">")

/** A subject usable for subscribing: non-empty tokens, `>` only last. */
export const isValidSubscribeSubject = (subject: string): boolean => {
  if (subject.length === 0 || /[\s]/.test(subject)) return false
  const tokens = subject.split(".")
  return tokens.every((t, i) => t.length > 0 && (t !== ">" || i === tokens.length - 1))
}
