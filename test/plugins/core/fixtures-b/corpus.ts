/**
 * The sample corpus (examples/data) run through the first core stages
 * (ingest, parse, chunk) exactly as a pipeline would, giving the documents
 * and chunks the later stages read from the run state.
 */
import { Effect } from "effect"
import { chunk } from "../../../../plugins/core/chunk.ts"
import { ingest } from "../../../../plugins/core/ingest.ts"
import { parse } from "../../../../plugins/core/parse.ts"
import type { ChunkJson } from "./chunks.ts"
import { taskInfo } from "./support.ts"
import { runStage } from "../../../support/stages.ts"

/** A parsed document as JSON (only the fields these tests read). */
export interface DocumentJson {
  readonly id: string
  readonly title: string
  readonly source: string
  readonly text: string
}

/** The sample corpus's documents and chunks (600 characters, 80 overlap, as the example pipeline cuts them). */
export const sampleCorpus = Effect.gen(function* () {
  const payloads = yield* runStage(ingest, { sources: ["examples/data"] }, taskInfo())
  const documents = (yield* runStage(parse, { payloads }, taskInfo())) as unknown as ReadonlyArray<DocumentJson>
  const chunks = (yield* runStage(chunk, { documents, size: 600, overlap: 80 }, taskInfo())) as unknown as ReadonlyArray<ChunkJson>
  return { payloads, documents, chunks }
})
