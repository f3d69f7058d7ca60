/**
 * YAML documents with source positions, for every file Switchyard reads
 * (pipelines, plugin manifests, project configuration): parsing that reports
 * syntax errors with line and column, and mapping a dotted field path
 * (`stages[1].count`) back to the line and column of the value or its key,
 * walking up to the nearest node that has a position.
 */
import { isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml"
import type { Document } from "yaml"

/** A position in a file, 1-based. */
export interface Position {
  readonly line: number
  readonly column: number
}

/** A parsed document, or its syntax errors. */
export type ParsedYaml =
  | {
      readonly _tag: "Parsed"
      /** The document as plain JavaScript values. */
      readonly raw: unknown
      /** Position of the value at a dotted path (or of its closest located ancestor). */
      readonly locate: (path: string) => Position
      /** Position of the key of the field at a dotted path; falls back to `locate`. */
      readonly locateKey: (path: string) => Position
    }
  | { readonly _tag: "SyntaxErrors"; readonly errors: ReadonlyArray<Position & { readonly message: string }> }

/** Parses YAML text keeping positions; duplicate keys are syntax errors. */
export const parseYaml = (text: string): ParsedYaml => {
  const counter = new LineCounter()
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    return {
      _tag: "SyntaxErrors",
      errors: doc.errors.map((error) => {
        const position = error.linePos?.[0] ?? counter.linePos(error.pos[0])
        return { line: position.line, column: position.col, message: `YAML syntax error: ${error.message.split("\n")[0]}` }
      })
    }
  }
  return {
    _tag: "Parsed",
    raw: doc.toJS() as unknown,
    locate: (path) => locate(doc, counter, path),
    locateKey: (path) => locateKey(doc, counter, path)
  }
}

/** `stages[1].count` → `["stages", 1, "count"]`. */
export const splitPath = (path: string): Array<string | number> =>
  path === ""
    ? []
    : path
        .replace(/\[(\d+)\]/g, ".$1")
        .split(".")
        .filter((segment) => segment !== "")
        .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment))

/** `["stages", 1, "count"]` → `stages[1].count`. */
export const joinPath = (segments: ReadonlyArray<string | number>): string =>
  segments
    .map((segment) => (typeof segment === "number" ? `[${segment}]` : `.${segment}`))
    .join("")
    .replace(/^\./, "")

/** Position of the value at `path`, or of its closest located ancestor. */
export const locate = (doc: Document, counter: LineCounter, path: string): { line: number; column: number } => {
  const segments = splitPath(path)
  for (let length = segments.length; length >= 0; length--) {
    const node = length === 0 ? doc.contents : doc.getIn(segments.slice(0, length), true)
    if (isNode(node) && node.range) {
      const { line, col } = counter.linePos(node.range[0])
      return { line, column: col }
    }
  }
  return { line: 1, column: 1 }
}

/** Position of the key of the field at `path` (for unknown fields); falls back to `locate`. */
export const locateKey = (doc: Document, counter: LineCounter, path: string): { line: number; column: number } => {
  const segments = splitPath(path)
  const key = segments.at(-1)
  const parent = segments.length <= 1 ? doc.contents : doc.getIn(segments.slice(0, -1), true)
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && pair.key.value === key && pair.key.range) {
        const { line, col } = counter.linePos(pair.key.range[0])
        return { line, column: col }
      }
    }
  }
  return locate(doc, counter, path)
}

/** A problem at a position in a file, optionally inside a named pipeline stage. */
export interface PositionedIssue extends Position {
  readonly file: string
  readonly path: string
  readonly message: string
  readonly stage?: string | undefined
}

/** `file:line:column: [stage "x": ][path: ]message`, the one way issues in files are printed. */
export const formatPositioned = (issue: PositionedIssue): string =>
  `${issue.file}:${issue.line}:${issue.column}: ${issue.stage === undefined ? "" : `stage "${issue.stage}": `}${
    issue.path === "" ? "" : `${issue.path}: `
  }${issue.message}`
