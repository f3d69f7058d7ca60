/**
 * Every way a corpus can break the Document IR's rules, each reported with
 * the path of the offending field: the schema itself (types, integer and
 * non-negative offsets, positive levels), unique document ids, non-empty
 * text, offsets within the text with start <= end, paragraph text equal to
 * its slice of the text, paragraphs inside their section and in order, and
 * sections properly nested (deeper than their parent, inside its range,
 * after the previous sibling without overlapping it).
 */
import { Exit, Schema, SchemaIssue } from "effect"
import { Corpus } from "@switchyard/schemas/DocumentIR"
import type { Document, Paragraph, Section } from "@switchyard/schemas/DocumentIR"

/** One broken rule: where, and what is wrong. */
export interface Violation {
  readonly path: string
  readonly message: string
}

const decodeCorpus = Schema.decodeUnknownExit(Schema.toCodecJson(Corpus))
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const pathOf = (segments: ReadonlyArray<PropertyKey>): string =>
  segments
    .map((segment) => (typeof segment === "number" ? `[${segment}]` : `.${String(segment)}`))
    .join("")
    .replace(/^\./, "")

/** A short, quoted rendering of a value for a message. */
const show = (value: unknown): string => {
  const json = JSON.stringify(value) ?? String(value)
  return json.length > 60 ? `${json.slice(0, 57)}...` : json
}

const readAt = (value: unknown, segments: ReadonlyArray<PropertyKey>): { readonly found: boolean; readonly value?: unknown } => {
  let current = value
  for (const segment of segments) {
    if (current === null || typeof current !== "object" || !(segment in current)) return { found: false }
    current = (current as Record<PropertyKey, unknown>)[segment]
  }
  return { found: true, value: current }
}

/** A range `[start, end)` checked against the text and its container; reports under `path`. */
interface Span {
  readonly start: number
  readonly end: number
}

const checkSpan = (
  violations: Array<Violation>,
  path: string,
  span: Span,
  context: { readonly textLength: number; readonly container: Span | undefined; readonly containerName: string }
): void => {
  if (span.start > span.end) violations.push({ path, message: `start ${span.start} is after end ${span.end}` })
  if (span.start > context.textLength) {
    violations.push({ path: `${path}.start`, message: `${span.start} is past the end of the text (${context.textLength})` })
  }
  if (span.end > context.textLength) {
    violations.push({ path: `${path}.end`, message: `${span.end} is past the end of the text (${context.textLength})` })
  }
  const container = context.container
  if (container !== undefined && (span.start < container.start || span.end > container.end)) {
    violations.push({
      path,
      message: `range ${span.start}..${span.end} is outside its ${context.containerName}'s range ${container.start}..${container.end}`
    })
  }
}

const checkParagraphs = (violations: Array<Violation>, path: string, section: Section, text: string): void => {
  let previous: { readonly index: number; readonly paragraph: Paragraph } | undefined = undefined
  section.paragraphs.forEach((paragraph, index) => {
    const at = `${path}.paragraphs[${index}]`
    checkSpan(violations, at, paragraph, { textLength: text.length, container: section, containerName: "section" })
    const slice = text.slice(paragraph.start, paragraph.end)
    if (paragraph.start <= paragraph.end && paragraph.end <= text.length && slice !== paragraph.text) {
      violations.push({
        path: `${at}.text`,
        message: `${show(paragraph.text)} does not match the text at ${paragraph.start}..${paragraph.end} (${show(slice)})`
      })
    }
    if (previous !== undefined && paragraph.start < previous.paragraph.end) {
      violations.push({
        path: `${at}.start`,
        message: `${paragraph.start} is before the end of the previous paragraph (paragraphs[${previous.index}] ends at ${previous.paragraph.end})`
      })
    }
    previous = { index, paragraph }
  })
}

const checkSections = (
  violations: Array<Violation>,
  path: string,
  sections: ReadonlyArray<Section>,
  text: string,
  parent: Section | undefined
): void => {
  let previous: { readonly index: number; readonly section: Section } | undefined = undefined
  sections.forEach((section, index) => {
    const at = `${path}.sections[${index}]`
    checkSpan(violations, at, section, { textLength: text.length, container: parent, containerName: "parent section" })
    if (parent !== undefined && section.level <= parent.level) {
      violations.push({ path: `${at}.level`, message: `${section.level} is not deeper than its parent's level ${parent.level}` })
    }
    if (previous !== undefined && section.start < previous.section.end) {
      violations.push({
        path: `${at}.start`,
        message: `${section.start} is before the end of the previous section (sections[${previous.index}] ends at ${previous.section.end})`
      })
    }
    checkParagraphs(violations, at, section, text)
    checkSections(violations, at, section.sections, text, section)
    previous = { index, section }
  })
}

const checkDocument = (violations: Array<Violation>, document: Document, index: number, firstWithId: Map<string, number>): void => {
  const path = `documents[${index}]`
  const earlier = firstWithId.get(document.id)
  if (earlier === undefined) firstWithId.set(document.id, index)
  else violations.push({ path: `${path}.id`, message: `${show(document.id)} is also the id of documents[${earlier}]` })
  if (document.text.trim() === "") violations.push({ path: `${path}.text`, message: "is empty" })
  checkSections(violations, path, document.sections, document.text, undefined)
}

/** The decoded corpus, or every violation found in `input` (schema violations first stop the structural checks). */
export const validateCorpus = (
  input: unknown
): { readonly _tag: "Valid"; readonly corpus: Corpus } | { readonly _tag: "Invalid"; readonly violations: ReadonlyArray<Violation> } => {
  const decoded = decodeCorpus(input, { errors: "all" })
  if (Exit.isFailure(decoded)) {
    const error = decoded.cause.reasons.find((reason) => reason._tag === "Fail")?.error
    const issues = error === undefined ? [] : formatIssues(error.issue).issues
    return {
      _tag: "Invalid",
      violations: issues.map((issue) => {
        const segments = (issue.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment))
        const at = readAt(input, segments)
        return { path: pathOf(segments), message: at.found ? `${issue.message}, found ${show(at.value)}` : issue.message }
      })
    }
  }
  const violations: Array<Violation> = []
  const firstWithId = new Map<string, number>()
  decoded.value.documents.forEach((document, index) => checkDocument(violations, document, index, firstWithId))
  return violations.length === 0 ? { _tag: "Valid", corpus: decoded.value } : { _tag: "Invalid", violations }
}
