/**
 * The built-in `core` plugin: the stage types document pipelines are made of,
 * run inline by every executor. Each is a plugin stage with its own metadata;
 * the scheduler knows none of them by name. Their types are
 * `core/core.<name>` and they also answer to `<name>` alone.
 */
import { chunk } from "./chunk.ts"
import { download } from "./download.ts"
import { embed } from "./embed.ts"
import { extract } from "./extract.ts"
import { gate } from "./gate.ts"
import { index } from "./indexStage.ts"
import { ingest } from "./ingest.ts"
import { irValidation } from "./irValidation.ts"
import { knowledgeGraph } from "./knowledgeGraph.ts"
import { parse } from "./parse.ts"

export { chunk, download, embed, extract, gate, index, ingest, irValidation, knowledgeGraph, parse }

/** Every stage type of the `core` plugin. */
export const stages = [ingest, parse, irValidation, chunk, embed, index, extract, knowledgeGraph, download, gate] as const
