import { randomUUID } from "node:crypto"
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { digestOf } from "@switchyard/schemas/Blob"
import * as FolderBlobStore from "../../../services/bus/FolderBlobStore.ts"
import { blobStoreSuite, tampered } from "./BlobStoreSuite.ts"

blobStoreSuite(
  "folder",
  Effect.gen(function* () {
    const root = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-blobs-"))),
      (path) => Effect.promise(() => rm(path, { recursive: true, force: true }))
    )
    const incoming = join(root, "incoming")
    return {
      store: FolderBlobStore.make({ root }),
      where: root,
      corrupt: (ref) => Effect.promise(() => writeFile(join(root, digestOf(ref).slice(0, 2), digestOf(ref)), tampered(ref.size))),
      // A temporary file still in incoming/ once every put has returned is left over.
      leftovers: Effect.promise(() =>
        readdir(incoming).then(
          (names) => names.length,
          (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? 0 : Promise.reject(error))
        )
      ),
      abandonTemporary: Effect.promise(async () => {
        await mkdir(incoming, { recursive: true })
        await writeFile(join(incoming, randomUUID()), "half a blob")
      })
    }
  }),
  { writesTemporaries: true }
)
