/**
 * Subject patterns indexed by token, for finding which pattern a concrete
 * subject falls under without a cache of every subject ever seen: a lookup
 * walks the subject's tokens once, following literal tokens, `*` and `>`.
 * Subjects with empty tokens (which no valid publish has), and patterns with
 * empty tokens or a `>` before the end, are checked with the patterns'
 * compiled matchers instead, so every answer is the matchers' answer.
 */
import { compileSubject, type SubjectMatcher } from "./subjectMatch.ts"

interface Entry<T> {
  readonly value: T
  readonly order: number
  readonly matches: SubjectMatcher
}

interface Node<T> {
  readonly literal: Map<string, Node<T>>
  /** The literal children as pairs, scanned in place while there are few (no token is sliced out). */
  readonly few: Array<readonly [string, Node<T>]>
  star: Node<T> | undefined
  /** Patterns whose last token, `>`, sits at this level. */
  readonly rest: Array<Entry<T>>
  /** Patterns that end exactly here. */
  readonly exact: Array<Entry<T>>
}

const makeNode = <T>(): Node<T> => ({ literal: new Map(), few: [], star: undefined, rest: [], exact: [] })

/** Up to this many literal children, a lookup compares tokens in place. */
const fewChildren = 8

const earlier = <T>(a: Entry<T> | undefined, b: Entry<T> | undefined): Entry<T> | undefined =>
  a === undefined ? b : b === undefined ? a : a.order <= b.order ? a : b

const firstOf = <T>(entries: ReadonlyArray<Entry<T>>): Entry<T> | undefined => {
  let first: Entry<T> | undefined = undefined
  for (const entry of entries) first = earlier(first, entry)
  return first
}

/** Values keyed by subject pattern. */
export class SubjectIndex<T> {
  private root: Node<T> = makeNode()
  private entries: Array<Entry<T>> = []
  private irregular: Array<Entry<T>> = []

  /** Adds a value under a pattern; when several patterns match a subject, the first added wins. */
  add(pattern: string, value: T): void {
    const entry: Entry<T> = { value, order: this.entries.length, matches: compileSubject(pattern) }
    this.entries.push(entry)
    const tokens = pattern.split(".")
    if (tokens.some((token, i) => token === "" || (token === ">" && i < tokens.length - 1))) {
      this.irregular.push(entry)
      return
    }
    let node = this.root
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!
      if (token === ">" && i === tokens.length - 1) {
        node.rest.push(entry)
        return
      }
      if (token === "*") {
        node.star ??= makeNode()
        node = node.star
      } else {
        let next = node.literal.get(token)
        if (next === undefined) {
          next = makeNode()
          node.literal.set(token, next)
          node.few.push([token, next])
        }
        node = next
      }
    }
    node.exact.push(entry)
  }

  /** Forgets every pattern. */
  clear(): void {
    this.root = makeNode()
    this.entries = []
    this.irregular = []
  }

  /** The value of the first-added pattern matching `subject`, if any. */
  find(subject: string): T | undefined {
    if (this.entries.length === 0) return undefined
    if (subject.length === 0 || subject.includes("..") || subject.startsWith(".") || subject.endsWith(".")) {
      return this.scan(this.entries, subject)?.value
    }
    const found = this.walk(this.root, subject, 0)
    return (this.irregular.length === 0 ? found : earlier(found, this.scan(this.irregular, subject)))?.value
  }

  private walk(node: Node<T>, subject: string, start: number): Entry<T> | undefined {
    if (start > subject.length) return firstOf(node.exact)
    // At least one token is left here, which is what `>` needs.
    let found = firstOf(node.rest)
    let end = subject.indexOf(".", start)
    if (end === -1) end = subject.length
    const next = this.child(node, subject, start, end)
    if (next !== undefined) found = earlier(found, this.walk(next, subject, end + 1))
    if (node.star !== undefined) found = earlier(found, this.walk(node.star, subject, end + 1))
    return found
  }

  private child(node: Node<T>, subject: string, start: number, end: number): Node<T> | undefined {
    if (node.few.length > fewChildren) return node.literal.get(subject.slice(start, end))
    for (const [token, next] of node.few) {
      if (token.length === end - start && subject.startsWith(token, start)) return next
    }
    return undefined
  }

  private scan(entries: ReadonlyArray<Entry<T>>, subject: string): Entry<T> | undefined {
    for (const entry of entries) if (entry.matches(subject)) return entry
    return undefined
  }
}
