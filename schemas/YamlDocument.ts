/**
 * YAML documents with source positions, for every file Switchyard reads
 * (pipelines, plugin manifests, project configuration): parsing that reports
 * syntax errors with line and column, and mapping a dotted field path
 * (`stages[1].count`) back to the line and column of the value or its key,
 * walking up to the nearest node that has a position. Parsing holds every
 * file to the limits of `InputLimits.ts` before it builds any value: its size,
 * its nesting depth (measured on the `yaml` package's own token parser, which
 * keeps its stack on the heap), its keys, and how far its aliases expand
 * (the package's `maxAliasCount`).
 */
import { CST, isMap, isNode, isPair, isScalar, isSeq, Lexer, LineCounter, parseDocument, Parser, visit } from "yaml"
import type { Document } from "yaml"
import { Result } from "effect"
import {
  byteLength,
  defaultMaxFileBytes,
  depthMessage,
  forbiddenKeyMessage,
  isForbiddenKey,
  maxAliasCount,
  maxDepth,
  sizeMessage
} from "./InputLimits.ts"

/** A position in a file, 1-based. */
export interface Position {
  readonly line: number
  readonly column: number
}

/** Why a file was refused: a syntax error or a limit it passed, at a position and (when known) a field path. */
export interface YamlProblem extends Position {
  readonly path: string
  readonly message: string
}

/** A parsed document, or why it was refused. */
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
  | { readonly _tag: "Refused"; readonly errors: ReadonlyArray<YamlProblem> }

/** What `parseYaml` takes besides the text. */
export interface ParseYamlOptions {
  /** Bytes the text may have. @default 1 MiB */
  readonly maxBytes?: number
  /** How to raise `maxBytes`, named in the issue of a file over it (e.g. `SWITCHYARD_MAX_PIPELINE_BYTES`). */
  readonly bytesSetting?: string
}

const refused = (errors: ReadonlyArray<YamlProblem>): ParsedYaml => ({ _tag: "Refused", errors })

/**
 * Parses YAML text keeping positions. Duplicate keys are syntax errors; a
 * text over `maxBytes`, nesting past `maxDepth`, a forbidden key anywhere and
 * aliases expanding past `maxAliasCount` are refused with their position.
 */
export const parseYaml = (text: string, options: ParseYamlOptions = {}): ParsedYaml => {
  const limit = options.maxBytes ?? defaultMaxFileBytes
  // A string has at least as many UTF-8 bytes as code units: the cheap test first.
  if (text.length > limit || byteLength(text) > limit) {
    return refused([
      { line: 1, column: 1, path: "", message: sizeMessage({ bytes: byteLength(text), limit, setting: options.bytesSetting }) }
    ])
  }
  const deep = tooDeep(text)
  if (deep !== undefined) return refused([{ line: deep.line, column: deep.column, path: deep.path, message: depthMessage }])
  const counter = new LineCounter()
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    return refused(
      doc.errors.map((error) => {
        const position = error.linePos?.[0] ?? counter.linePos(error.pos[0])
        return { line: position.line, column: position.col, path: "", message: `YAML syntax error: ${error.message.split("\n")[0]}` }
      })
    )
  }
  const forbidden = forbiddenKeysOf(doc, counter)
  if (forbidden.length > 0) return refused(forbidden)
  const raw = Result.try({ try: () => doc.toJS({ maxAliasCount }) as unknown, catch: (error) => error })
  if (Result.isFailure(raw)) {
    // The package refuses excessive aliasing with a ReferenceError; whatever else it throws still refuses the file.
    return refused([
      raw.failure instanceof ReferenceError
        ? aliasProblem(doc, counter)
        : { line: 1, column: 1, path: "", message: `expected a document that converts to plain values, found ${String(raw.failure)}` }
    ])
  }
  return {
    _tag: "Parsed",
    raw: raw.success,
    locate: (path) => locate(doc, counter, path),
    locateKey: (path) => locateKey(doc, counter, path)
  }
}

/** The path of `node` from the ancestors `visit` passes. */
const pathOf = (ancestors: ReadonlyArray<unknown>, node: unknown): string => {
  const chain = [...ancestors, node]
  const segments: Array<string | number> = []
  chain.forEach((item, index) => {
    if (isPair(item)) segments.push(isScalar(item.key) ? String(item.key.value) : String(item.key))
    else if (isSeq(item)) segments.push(item.items.indexOf(chain[index + 1] as never))
  })
  return joinPath(segments)
}

/** Every forbidden key of the document, at its key. */
const forbiddenKeysOf = (doc: Document, counter: LineCounter): Array<YamlProblem> => {
  const found: Array<YamlProblem> = []
  visit(doc, {
    Pair: (_, pair, ancestors) => {
      const key = isScalar(pair.key) ? pair.key.value : pair.key
      if (!isForbiddenKey(key)) return
      const at = isNode(pair.key) && pair.key.range ? counter.linePos(pair.key.range[0]) : { line: 1, col: 1 }
      found.push({ line: at.line, column: at.col, path: pathOf(ancestors, pair), message: forbiddenKeyMessage(key as string) })
    }
  })
  return found
}

/** Where a document whose aliases expand too far is refused: at its first alias. */
const aliasProblem = (doc: Document, counter: LineCounter): YamlProblem => {
  let first: YamlProblem | undefined
  visit(doc, {
    Alias: (_, alias, ancestors) => {
      const at = alias.range ? counter.linePos(alias.range[0]) : { line: 1, col: 1 }
      first = { line: at.line, column: at.col, path: pathOf(ancestors, alias), message: "" }
      return visit.BREAK
    }
  })
  return {
    ...(first ?? { line: 1, column: 1, path: "" }),
    message: `expected aliases (*name) that expand to at most ${maxAliasCount} copies of their anchors, found more`
  }
}

/**
 * Where the text first nests past `maxDepth`, if it does: the `yaml` token
 * parser is run lexeme by lexeme, and its stack (the document, then one
 * entry per open collection or value) is the depth.
 */
const tooDeep = (text: string): (Position & { readonly path: string }) | undefined => {
  const counter = new LineCounter()
  const parser = new Parser(counter.addNewLine)
  // `Parser.parse` would register the start of the input; driven lexeme by lexeme, it is registered here.
  counter.addNewLine(0)
  for (const lexeme of new Lexer().lex(text)) {
    const offset = parser.offset
    for (const _token of parser.next(lexeme)) {
      // Whole documents are not needed here, only the stack while they are built.
    }
    if (parser.stack.length > maxDepth + 2) {
      const { col, line } = counter.linePos(offset)
      return { line, column: col, path: stackPath(parser.stack) }
    }
  }
  return undefined
}

/** The field path of the innermost open collection of a token parser's stack. */
const stackPath = (stack: ReadonlyArray<CST.Token>): string => {
  const segments: Array<string | number> = []
  for (const token of stack) {
    if (token.type === "block-seq" || (token.type === "flow-collection" && token.start.source === "[")) {
      segments.push(Math.max(0, token.items.length - 1))
    } else if (token.type === "block-map" || token.type === "flow-collection") {
      const key = token.items.at(-1)?.key
      const scalar = key === undefined || key === null ? null : CST.resolveAsScalar(key)
      if (scalar !== null) segments.push(scalar.value)
    }
  }
  return joinPath(segments)
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
