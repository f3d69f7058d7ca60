/**
 * An example external service for the `pdf-two-phase` pipeline: it plays the
 * PDF processor that runs outside Switchyard. It watches run events over
 * NATS; when a run's gate starts waiting on `pdf_ir_ready`, it reads the run
 * record, opens every PDF the run ingested (checking that each one parses and
 * counting its pages), then sets `pdf_ir_ready`, `pdf_documents` and
 * `pdf_pages` in the run's ledger, which wakes the gate.
 *
 *   node examples/services/pdf-processor/index.ts --nats nats://127.0.0.1:4222
 */
import { readFile } from "node:fs/promises"
import { parseArgs } from "node:util"
import { fileURLToPath } from "node:url"
import { getDocument, VerbosityLevel } from "pdfjs-dist/legacy/build/pdf.mjs"
import { Schema } from "effect"
import { Payload } from "@switchyard/schemas/DocumentIR"
import { connect } from "@switchyard/sdk"
import type { SwitchyardConnection } from "@switchyard/sdk"

/** The ledger field the pipeline's gate waits on. */
export const readyField = "pdf_ir_ready"

const decodePayloads = Schema.decodeUnknownSync(Schema.Array(Payload))

/** A payload's bytes: inline, in the blob store (big files), or in the file it names. */
const bytesOf = async (client: SwitchyardConnection, payload: Payload): Promise<Uint8Array> =>
  payload.content !== undefined
    ? new Uint8Array(Buffer.from(payload.content, payload.encoding === "base64" ? "base64" : "utf8"))
    : payload.blob !== undefined
      ? client.readBlob(payload.blob)
      : new Uint8Array(await readFile(payload.ref ?? payload.source))

const pageCount = async (bytes: Uint8Array): Promise<number> => {
  const loading = getDocument({ data: bytes, verbosity: VerbosityLevel.ERRORS })
  try {
    return (await loading.promise).numPages
  } finally {
    await loading.destroy()
  }
}

/** Processes one run's PDFs and sets its ledger fields. */
export const processRun = async (client: SwitchyardConnection, runId: string, log: (line: string) => void): Promise<void> => {
  const run = await client.getRun(runId)
  if (run === undefined) return log(`run ${runId}: not found`)
  // A corpus past the blob threshold is a reference in the run's state: read what it stands for.
  const payloads = decodePayloads(await client.resolve(run.state.payloads ?? []))
  const pdfs = payloads.filter((payload) => payload.mediaType === "application/pdf")
  let pages = 0
  for (const pdf of pdfs) pages += await pageCount(await bytesOf(client, pdf))
  const reply = await client.updateLedger(
    runId,
    { [readyField]: true, pdf_documents: pdfs.length, pdf_pages: pages },
    { source: "pdf-processor" }
  )
  log(
    reply.applied
      ? `run ${runId}: ${pdfs.length} PDF(s), ${pages} page(s); set ${readyField}`
      : `run ${runId}: already ${reply.status}; ledger unchanged`
  )
}

/** Watches every run and answers each gate waiting on `pdf_ir_ready` once; resolves when `signal` aborts. */
export const runPdfProcessor = async (options: {
  readonly natsUrl: string
  readonly prefix?: string
  readonly signal?: AbortSignal
  readonly log?: (line: string) => void
}): Promise<void> => {
  const log = options.log ?? ((line: string) => console.error(line))
  const client = await connect({
    natsUrl: options.natsUrl,
    name: "pdf-processor",
    ...(options.prefix === undefined ? {} : { prefix: options.prefix })
  })
  const done = new Set<string>()
  options.signal?.addEventListener("abort", () => void client.close(), { once: true })
  try {
    const events = await client.watchRuns()
    log("pdf-processor: watching runs")
    for await (const event of events) {
      const waitsForUs = event.kind === "stage.waiting" && event.waiting?.unmet.some((unmet) => unmet.includes(readyField)) === true
      if (!waitsForUs || done.has(event.runId)) continue
      done.add(event.runId)
      await processRun(client, event.runId, log).catch((error: unknown) => {
        done.delete(event.runId)
        log(`run ${event.runId}: ${error instanceof Error ? error.message : String(error)}`)
      })
    }
  } catch (error) {
    // Closing the connection on abort ends the event stream with an error; that is the way out.
    if (options.signal?.aborted !== true) throw error
  } finally {
    await client.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { nats: { type: "string" }, prefix: { type: "string" } } })
  const controller = new AbortController()
  process.once("SIGTERM", () => controller.abort())
  process.once("SIGINT", () => controller.abort())
  await runPdfProcessor({
    natsUrl: values.nats ?? process.env.SWITCHYARD_NATS_URL ?? "nats://127.0.0.1:4222",
    ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
    signal: controller.signal
  })
}
