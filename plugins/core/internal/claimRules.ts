/**
 * Finds claims in a chunk: the chunk is split into sentences with
 * `Intl.Segmenter`, and every pair of distinct entities in a sentence whose
 * kinds fit a rule's subject and object kinds may make one claim. The two
 * closest mentions of the pair stand for it, and the rule is chosen in
 * tiers: a rule whose cue occurs between the two mentions (the occurrence
 * nearest the object wins, so "ibuprofen gives relief, but raises the risk
 * of bleeding" pairs ibuprofen and bleeding through "risk of"); else the
 * first rule whose cue occurs elsewhere in the sentence; else the first rule
 * without a cue. A cue-less rule is thus the general fallback of cue-bearing
 * rules for the same kinds. A rule with `maxGap` only fits mentions at most
 * that many characters apart.
 */
import type { Chunk } from "@switchyard/schemas/DocumentIR"
import type { Claim, Entity } from "./entities.ts"
import type { ClaimRule, Vocabulary } from "./vocabulary.ts"

/** Finds the claims in one chunk given its entity mentions. */
export type ClaimFinder = (chunk: Chunk, mentions: ReadonlyArray<Entity>) => Array<Claim>

interface CompiledRule extends Omit<ClaimRule, "cue"> {
  readonly cue: RegExp | undefined
}

const sentences = new Intl.Segmenter(undefined, { granularity: "sentence" })

const gap = (a: Entity, b: Entity): number => Math.max(a.start, b.start) - Math.min(a.end, b.end)

/** Compiles a vocabulary's claim rules (cues already checked by `regexProblems`). */
export const makeClaimFinder = (vocabulary: Vocabulary): ClaimFinder => {
  const rules: Array<CompiledRule> = vocabulary.claims.map((rule) => ({
    ...rule,
    cue: rule.cue === undefined ? undefined : new RegExp(rule.cue, "giu")
  }))

  /** The rule for a subject and object mention in `sentence` (chunk-local text), if any. */
  const ruleFor = (subject: Entity, object: Entity, between: string, sentence: string): CompiledRule | undefined => {
    const fitting = rules.filter(
      (rule) =>
        rule.subjectKind === subject.kind && rule.objectKind === object.kind && (rule.maxGap === undefined || between.length <= rule.maxGap)
    )
    let nearest: { rule: CompiledRule; distance: number } | undefined = undefined
    for (const rule of fitting) {
      if (rule.cue === undefined) continue
      for (const match of between.matchAll(rule.cue)) {
        const distance = object.start > subject.start ? between.length - (match.index + match[0].length) : match.index
        if (nearest === undefined || distance < nearest.distance) nearest = { rule, distance }
      }
    }
    return (
      nearest?.rule ??
      fitting.find((rule) => rule.cue !== undefined && new RegExp(rule.cue.source, "iu").test(sentence)) ??
      fitting.find((rule) => rule.cue === undefined)
    )
  }

  return (chunk, mentions) => {
    if (rules.length === 0 || mentions.length < 2) return []
    const local = (offset: number) => offset - chunk.start
    const claims: Array<Claim> = []
    for (const segment of sentences.segment(chunk.text)) {
      const raw = segment.segment
      const text = raw.trim()
      if (text === "") continue
      const start = chunk.start + segment.index + (raw.length - raw.trimStart().length)
      const end = start + text.length
      const inSentence = mentions.filter((mention) => mention.start >= start && mention.end <= end)
      // The closest pair of mentions stands for each pair of entities.
      const pairs = new Map<string, { subject: Entity; object: Entity }>()
      for (const subject of inSentence) {
        for (const object of inSentence) {
          if (subject.id === object.id) continue
          const key = `${subject.id}\u0000${object.id}`
          const known = pairs.get(key)
          if (known === undefined || gap(subject, object) < gap(known.subject, known.object)) pairs.set(key, { subject, object })
        }
      }
      for (const { object, subject } of pairs.values()) {
        const between = chunk.text.slice(local(Math.min(subject.end, object.end)), local(Math.max(subject.start, object.start)))
        const rule = ruleFor(subject, object, between, text)
        if (rule === undefined) continue
        claims.push({
          id: `${rule.predicate}(${subject.id},${object.id})@${chunk.id}:${start}`,
          subject: subject.id,
          predicate: rule.predicate,
          object: object.id,
          text,
          chunkId: chunk.id,
          start,
          end
        })
      }
    }
    return claims
  }
}
