/**
 * Encoding and two-stage decoding of wire messages. The envelope (the
 * `switchyard-type` header naming the payload's schema and version) is read
 * first, then the JSON payload is decoded with the schema for that type.
 * Every failure names the subject, the field path and what was expected.
 */
import { Effect, Schema, SchemaIssue } from "effect"
import type { Headers } from "./Bus.ts"

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

/** Serializes a message value with its schema; returns bytes and the type header. */
export const encode = <S extends Codec>(
  schema: S,
  type: string,
  value: S["Type"]
): { readonly data: Uint8Array; readonly headers: Headers } => ({
  data: textEncoder.encode(JSON.stringify(Schema.encodeSync(schema)(value))),
  headers: { [TypeHeader]: type }
})

/** Serializes a plain JSON value. */
export const encodeJson = (value: unknown): Uint8Array => textEncoder.encode(JSON.stringify(value))

/**
 * Decodes a message: checks the envelope's type header when present (a
 * mismatch is an error naming both), parses JSON, then decodes the payload.
 */
export const decode = <S extends Codec>(schema: S, type: string) =>
  Effect.fnUntraced(function*(message: { readonly subject: string; readonly data: Uint8Array; readonly headers: Headers }) {
    const declared = message.headers[TypeHeader]
    if (declared !== undefined && declared.split("/")[0] !== type.split("/")[0]) {
      return yield* new MalformedMessageError({
        subject: message.subject,
        path: `headers.${TypeHeader}`,
        message: `expected a ${type} message, found ${declared}`
      })
    }
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(textDecoder.decode(message.data)),
      catch: (cause) =>
        new MalformedMessageError({
          subject: message.subject,
          path: "",
          message: `expected a JSON ${type} payload, found ${describeJsonError(cause)}`
        })
    })
    return yield* Schema.decodeUnknownEffect(schema)(json).pipe(
      Effect.mapError((error) => {
        const { message: text, path } = describeIssue(error.issue)
        return new MalformedMessageError({ subject: message.subject, path, message: `${type}: ${text}` })
      })
    ) as Effect.Effect<S["Type"], MalformedMessageError>
  })

const describeJsonError = (cause: unknown): string =>
  cause instanceof SyntaxError ? `invalid JSON (${cause.message})` : "unreadable bytes"

/** Serializes a value already in its encoded (plain JSON) form, skipping schema encoding on hot paths. */
export const encodePlain = (type: string, encoded: unknown): { readonly data: Uint8Array; readonly headers: Headers } => ({
  data: textEncoder.encode(JSON.stringify(encoded)),
  headers: { [TypeHeader]: type }
})
