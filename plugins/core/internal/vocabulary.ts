/**
 * What `extract` looks for: dictionaries of terms per entity kind (each term
 * a name or `{ name, aliases }`), regular expressions per kind, and claim
 * rules (`{ predicate, subjectKind, objectKind, cue? }`). A vocabulary comes
 * inline in the stage's inputs, from a YAML file (parsed with positions, so
 * an error names the file, line, column and field), or both merged: the
 * file's dictionaries extended by the inline ones, inline patterns replacing
 * the file's of the same kind, claim rules the file's then the inline ones.
 * Every regular expression is compiled here, so a bad one is reported by
 * field instead of failing mid-extraction.
 */
import { readFile } from "node:fs/promises"
import { Effect, Schema, SchemaIssue } from "effect"
import { formatPositioned, joinPath, parseYaml } from "@switchyard/schemas/YamlDocument"

/** An entity kind: it prefixes entity ids (`drug:metformin`). */
export const EntityKind = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^[A-Za-z][A-Za-z0-9_-]*$/, { message: "expected a kind name (letters, digits, _ and -, starting with a letter)" })
  )
)

const NonEmpty = Schema.String.pipe(Schema.check(Schema.isNonEmpty()))

/** A dictionary term: its canonical name, or the name with other spellings that map to it. */
export const Term = Schema.Union([NonEmpty, Schema.Struct({ name: NonEmpty, aliases: Schema.optionalKey(Schema.Array(NonEmpty)) })])
export type Term = typeof Term.Type

/** A sentence mentioning a `subjectKind` entity and an `objectKind` entity (and `cue`, when given) is a `predicate` claim; see claimRules.ts for the choice among rules. */
export const ClaimRule = Schema.Struct({
  predicate: NonEmpty,
  subjectKind: EntityKind,
  objectKind: EntityKind,
  /** Regular expression source, matched case-insensitively between the two mentions first, then in the whole sentence. */
  cue: Schema.optionalKey(Schema.String),
  /** Most characters between the two mentions, for pairs that sit side by side (a drug and its dose). */
  maxGap: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))))
})
export type ClaimRule = typeof ClaimRule.Type

/** Dictionaries, patterns and claim rules, each defaulting to empty. */
export const Vocabulary = Schema.Struct({
  /** Kind → terms, matched case-insensitively as whole words. @default {} */
  dictionaries: Schema.Record(EntityKind, Schema.Array(Term))
    .annotate({
      description: "Entity kind → terms (a name, or { name, aliases }), matched case-insensitively as whole words.",
      default: {}
    })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  /** Kind → regular expression source, matched case-insensitively. @default {} */
  patterns: Schema.Record(EntityKind, Schema.String)
    .annotate({ description: "Entity kind → regular expression, matched case-insensitively.", default: {} })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  /** Claim rules; for each pair of entities in a sentence at most one applies. @default [] */
  claims: Schema.Array(ClaimRule)
    .annotate({ description: "Claim rules { predicate, subjectKind, objectKind, cue?, maxGap? } applied to each sentence.", default: [] })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
})
export type Vocabulary = typeof Vocabulary.Type

/** A vocabulary could not be read or is malformed: the file (or input), the field, and what was wrong. */
export class VocabularyError extends Schema.TaggedError<VocabularyError>()("VocabularyError", {
  /** The YAML file, or `input` for the stage's inline fields. */
  file: Schema.String,
  /** Dotted field path, such as `dictionaries.drug[2].aliases`; empty for the whole file. */
  path: Schema.String,
  line: Schema.optionalKey(Schema.Int),
  column: Schema.optionalKey(Schema.Int),
  /** What was expected and what was found. */
  problem: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return this.line === undefined
      ? `${this.file}: ${this.path === "" ? "" : `${this.path}: `}${this.problem}`
      : formatPositioned({ file: this.file, line: this.line, column: this.column ?? 1, path: this.path, message: this.problem })
  }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Reads, parses and decodes a vocabulary file, then checks its regular expressions. */
export const loadVocabulary = (file: string): Effect.Effect<Vocabulary, VocabularyError> =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (error) => new VocabularyError({ file, path: "", problem: `cannot read the vocabulary file: ${(error as Error).message}` })
    })
    const parsed = parseYaml(text)
    if (parsed._tag === "Refused") {
      const first = parsed.errors[0]!
      return yield* new VocabularyError({ file, path: first.path, line: first.line, column: first.column, problem: first.message })
    }
    const at = (path: string, problem: string) => {
      const { column, line } = parsed.locate(path)
      return new VocabularyError({ file, path, line, column, problem })
    }
    const vocabulary = yield* Schema.decodeUnknownEffect(Vocabulary)(parsed.raw ?? {}).pipe(
      Effect.mapError((error) => {
        const first = formatter(error.issue).issues[0]
        const path = joinPath(
          (first?.path ?? []).map((segment) =>
            typeof segment === "object" ? (segment.key as string | number) : (segment as string | number)
          )
        )
        const message = first?.message ?? "invalid value"
        const found = JSON.stringify(valueAt(parsed.raw, first?.path ?? [])) ?? "nothing"
        return at(
          path,
          message === "Missing key"
            ? `expected required field "${path.split(".").at(-1)}", found nothing`
            : `${message.charAt(0).toLowerCase()}${message.slice(1)}, found ${found}`
        )
      })
    )
    const badRegex = regexProblems(vocabulary)[0]
    if (badRegex !== undefined) return yield* at(badRegex.path, badRegex.problem)
    return vocabulary
  })

const valueAt = (raw: unknown, path: ReadonlyArray<unknown>): unknown =>
  path.reduce<unknown>((value, segment) => {
    const key = typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
    return typeof value === "object" && value !== null ? (value as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined
  }, raw)

/** Every pattern and cue that is not a valid regular expression, with its field path. */
export const regexProblems = (vocabulary: Vocabulary): Array<{ readonly path: string; readonly problem: string }> => {
  const problems: Array<{ path: string; problem: string }> = []
  const check = (path: string, source: string) => {
    const error = regexError(source)
    if (error !== undefined) problems.push({ path, problem: `expected a regular expression, found ${JSON.stringify(source)} (${error})` })
  }
  for (const [kind, source] of Object.entries(vocabulary.patterns)) check(`patterns.${kind}`, source)
  vocabulary.claims.forEach((rule, index) => {
    if (rule.cue !== undefined) check(`claims[${index}].cue`, rule.cue)
  })
  return problems
}

const regexError = (source: string): string | undefined => {
  try {
    new RegExp(source, "giu")
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}

/** The file's vocabulary extended by the inline one (see the module comment for the rules). */
export const mergeVocabularies = (base: Vocabulary, inline: Vocabulary): Vocabulary => {
  const dictionaries: Record<string, ReadonlyArray<Term>> = { ...base.dictionaries }
  for (const [kind, terms] of Object.entries(inline.dictionaries)) dictionaries[kind] = [...(dictionaries[kind] ?? []), ...terms]
  return { dictionaries, patterns: { ...base.patterns, ...inline.patterns }, claims: [...base.claims, ...inline.claims] }
}
