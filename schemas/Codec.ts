/**
 * Encoding and two-stage decoding of wire messages. The envelope (the
 * `switchyard-type` header naming the payload's schema and version) is read
 * first, then the JSON payload is decoded with the schema for that type.
 * Every failure names the subject, the field path and what was expected.
 *
 * Decoders are built once per schema and type and shared by every caller;
 * for the (synchronous) wire schemas a decode is an `Exit`, so it costs no
 * fiber step of its own.
 */
import { Effect, Exit, Result, Schema, SchemaIssue } from "effect"

/** Message headers (`traceparent`, `switchyard-type`, ...). */
export type Headers = Readonly<Record<string, string>>

/** Header naming a message's payload type, e.g. `TaskRun/1`. */
export const TypeHeader = "switchyard-type"

/** A message that could not be decoded; it is rejected, never retried. */
export class MalformedMessageError extends Schema.TaggedError<MalformedMessageError>()("MalformedMessageError", {
  subject: Schema.String,
  /** Dotted path of the offending field (`""` for the whole payload). */
  path: Schema.String,
  /** What was expected, and what was found. */
  message: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override toString(): string {
    return `malformed message on ${this.subject}${this.path === "" ? "" : ` at ${this.path}`}: ${this.message}`
  }
}

/** A schema with a wire type name, e.g. `{ schema: TaskRun, type: "TaskRun" }`. */
type Codec = Schema.Codec<any, any, never, never>

/** What a decoder reads: a message's subject, bytes and headers. */
export interface Decodable {
  readonly subject: string
  readonly data: Uint8Array
  readonly headers: Headers
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()
const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Formats a schema issue as `{ path, message }` of its first problem. */
export const describeIssue = (issue: SchemaIssue.Issue): { readonly path: string; readonly message: string } => {
  const first = formatter(issue).issues[0]
  if (first === undefined) return { path: "", message: "invalid value" }
  const path = (first.path ?? [])
    .map((segment) => {
      const key = typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
      return typeof key === "number" ? `[${key}]` : `.${String(key)}`
    })
    .join("")
    .replace(/^\./, "")
  return { path, message: first.message }
}

const encoders = new WeakMap<Codec, (value: unknown) => unknown>()

const encoderOf = (schema: Codec): ((value: unknown) => unknown) => {
  let encoder = encoders.get(schema)
  if (encoder === undefined) {
    encoder = Schema.encodeSync(schema)
    encoders.set(schema, encoder)
  }
  return encoder
}

/** Serializes a message value with its schema; returns bytes and the type header. */
export const encode = <S extends Codec>(
  schema: S,
  type: string,
  value: S["Type"]
): { readonly data: Uint8Array; readonly headers: Headers } => ({
  data: textEncoder.encode(JSON.stringify(encoderOf(schema)(value))),
  headers: { [TypeHeader]: type }
})

/** Serializes a plain JSON value. */
export const encodeJson = (value: unknown): Uint8Array => textEncoder.encode(JSON.stringify(value))

/** The type name without its version: `TaskRun` of `TaskRun/1`. */
const baseOf = (type: string): string => {
  const slash = type.indexOf("/")
  return slash === -1 ? type : type.slice(0, slash)
}

type Decoder = (message: Decodable) => Effect.Effect<any, MalformedMessageError>

const decoders = new WeakMap<Codec, Map<string, Decoder>>()

const makeDecoder = <S extends Codec>(schema: S, type: string) => {
  const base = baseOf(type)
  const parse = Schema.decodeUnknownEffect(schema)
  return (message: Decodable): Effect.Effect<S["Type"], MalformedMessageError> => {
    const declared = message.headers[TypeHeader]
    if (declared !== undefined && declared !== type && baseOf(declared) !== base) {
      return Exit.fail(
        new MalformedMessageError({
          subject: message.subject,
          path: `headers.${TypeHeader}`,
          message: `expected a ${type} message, found ${declared}`
        })
      )
    }
    const json = Result.try({ try: (): unknown => JSON.parse(textDecoder.decode(message.data)), catch: (cause) => cause })
    if (Result.isFailure(json)) {
      return Exit.fail(
        new MalformedMessageError({
          subject: message.subject,
          path: "",
          message: `expected a JSON ${type} payload, found ${describeJsonError(json.failure)}`
        })
      )
    }
    return Effect.mapErrorEager(parse(json.success), (error) => {
      const { message: text, path } = describeIssue(error.issue)
      return new MalformedMessageError({ subject: message.subject, path, message: `${type}: ${text}` })
    }) as Effect.Effect<S["Type"], MalformedMessageError>
  }
}

/**
 * Decodes a message: checks the envelope's type header when present (a
 * mismatch is an error naming both), parses JSON, then decodes the payload.
 * The decoder is built once per schema and type; calling this per message is cheap.
 */
export const decode = <S extends Codec>(
  schema: S,
  type: string
): ((message: Decodable) => Effect.Effect<S["Type"], MalformedMessageError>) => {
  let byType = decoders.get(schema)
  if (byType === undefined) {
    byType = new Map()
    decoders.set(schema, byType)
  }
  let decoder = byType.get(type)
  if (decoder === undefined) {
    decoder = makeDecoder(schema, type)
    byType.set(type, decoder)
  }
  return decoder
}

/**
 * `decode` for schemas that decode synchronously (every wire schema does): the
 * outcome as an `Exit`, available without running an effect.
 */
export const decodeExit = <S extends Codec>(schema: S, type: string) => {
  const decoder = decode(schema, type)
  // An Exit goes through runSyncExit untouched.
  return (message: Decodable): Exit.Exit<S["Type"], MalformedMessageError> => Effect.runSyncExit(decoder(message))
}

const describeJsonError = (cause: unknown): string =>
  cause instanceof SyntaxError ? `invalid JSON (${cause.message})` : "unreadable bytes"

/** Serializes a value already in its encoded (plain JSON) form, skipping schema encoding on hot paths. */
export const encodePlain = (type: string, encoded: unknown): { readonly data: Uint8Array; readonly headers: Headers } => ({
  data: textEncoder.encode(JSON.stringify(encoded)),
  headers: { [TypeHeader]: type }
})
