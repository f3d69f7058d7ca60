/**
 * Finds entity mentions in a chunk: dictionary terms and aliases matched
 * case-insensitively as whole words (whitespace inside a term matches any
 * run of whitespace, so line breaks do not hide a term), and pattern matches.
 * Where mentions overlap, the one starting first wins, then the longer one,
 * so "type 2 diabetes" is one condition rather than also "diabetes".
 */
import type { Chunk } from "@switchyard/schemas/DocumentIR"
import type { Entity } from "./entities.ts"
import { entityId, normalizeName } from "./entities.ts"
import type { Vocabulary } from "./vocabulary.ts"

/** Finds the mentions in one chunk, with offsets in the document's text. */
export type EntityMatcher = (chunk: Chunk) => Array<Entity>

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+")

const wordBoundary = (source: string): string => `(?<![\\p{L}\\p{N}_])(?:${source})(?![\\p{L}\\p{N}_])`

interface Finder {
  readonly kind: string
  readonly regex: RegExp
  /** Canonical name of a match. */
  readonly nameOf: (match: string) => string
}

/** Compiles a vocabulary's dictionaries and patterns (already checked by `regexProblems`). */
export const makeEntityMatcher = (vocabulary: Vocabulary): EntityMatcher => {
  const finders: Array<Finder> = []
  for (const [kind, terms] of Object.entries(vocabulary.dictionaries)) {
    const canonical = new Map<string, string>()
    for (const term of terms) {
      const name = typeof term === "string" ? term : term.name
      for (const spelling of [name, ...(typeof term === "string" ? [] : (term.aliases ?? []))]) {
        const key = normalizeName(spelling)
        if (!canonical.has(key)) canonical.set(key, normalizeName(name))
      }
    }
    if (canonical.size === 0) continue
    // Longest first, so the alternation prefers "type 2 diabetes" over "type 2".
    const alternation = [...canonical.keys()]
      .sort((a, b) => b.length - a.length)
      .map(escape)
      .join("|")
    finders.push({
      kind,
      regex: new RegExp(wordBoundary(alternation), "giu"),
      nameOf: (match) => canonical.get(normalizeName(match)) ?? normalizeName(match)
    })
  }
  for (const [kind, source] of Object.entries(vocabulary.patterns)) {
    finders.push({ kind, regex: new RegExp(source, "giu"), nameOf: normalizeName })
  }

  return (chunk) => {
    const found: Array<Entity> = []
    for (const { kind, nameOf, regex } of finders) {
      for (const match of chunk.text.matchAll(regex)) {
        if (match[0] === "") continue
        const name = nameOf(match[0])
        found.push({
          id: entityId(kind, name),
          kind,
          name,
          text: match[0],
          chunkId: chunk.id,
          start: chunk.start + match.index,
          end: chunk.start + match.index + match[0].length
        })
      }
    }
    found.sort((a, b) => a.start - b.start || b.end - a.end)
    const kept: Array<Entity> = []
    for (const entity of found) {
      if (kept.length === 0 || entity.start >= kept[kept.length - 1]!.end) kept.push(entity)
    }
    return kept
  }
}
