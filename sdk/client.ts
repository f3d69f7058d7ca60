/**
 * `connect`: the Promise face of `SwitchyardClient` for plain Node services,
 * a thin wrapper that runs the client's Effect core over NATS.
 */
import { Effect, Exit, Layer, ManagedRuntime, Option, Scope, Stream } from "effect"
import type { Schema } from "effect"
import type { LedgerUpdateReply, RunCancelReply, RunEvent } from "@switchyard/schemas/Run"
import type { RunRecord } from "@switchyard/schemas/RunRecord"
import { makeNames, Subjects } from "@switchyard/schemas/Subjects"
import type { TaskResult } from "@switchyard/schemas/Task"
import * as NatsBus from "@switchyard/bus/NatsBus"
import * as NatsBlobStore from "@switchyard/bus/NatsBlobStore"
import { BlobStore } from "@switchyard/bus/BlobStore"
import { resolve as resolveBlobs } from "@switchyard/bus/BlobJson"
import type { BlobRef } from "@switchyard/schemas/Blob"
import { SwitchyardClient } from "@switchyard/bus/SwitchyardClient"
import type { RunTaskOptions, SubmitRunOptions, SubmittedRun, UpdateLedgerOptions } from "@switchyard/bus/SwitchyardClient"

export * from "@switchyard/bus/SwitchyardClient"
/** The messages a client reads, so a service needs no other package to name their types. */
export type { LedgerUpdateReply, PipelineIssue, RunCancelReply, RunEvent } from "@switchyard/schemas/Run"
export type { RunRecord } from "@switchyard/schemas/RunRecord"
export type { TaskFailed, TaskFailure, TaskResult, TaskSucceeded, TaskWaited } from "@switchyard/schemas/Task"

/** Options of `connect`. */
export interface ConnectOptions {
  /** NATS server URL(s), e.g. `nats://localhost:4222`. */
  readonly natsUrl: string
  /** Deployment prefix of every subject, stream and bucket. @default "" */
  readonly prefix?: string
  /** Connection name shown by the server. @default "switchyard-client" */
  readonly name?: string
}

/** The Promise face of the client; close it (or `await using` it) when done. */
export interface SwitchyardConnection extends AsyncDisposable {
  /** Submits a pipeline; rejects with `PipelineInvalidError` when it has problems. */
  readonly submitRun: (options: SubmitRunOptions) => Promise<SubmittedRun<AsyncIterable<RunEvent>>>
  /** Every event of every run from now on; stop iterating (or close the connection) to unsubscribe. */
  readonly watchRuns: () => Promise<AsyncIterable<RunEvent>>
  /** A run's record as last saved, or `undefined` when there is no such run. */
  readonly getRun: (runId: string) => Promise<RunRecord | undefined>
  readonly cancelRun: (runId: string, reason?: string) => Promise<RunCancelReply>
  /** Runs one standalone task; rejects with `TaskResultTimeoutError` when no result comes. */
  readonly runTask: (options: RunTaskOptions) => Promise<TaskResult>
  /** Sets ledger fields; resolves with whether the scheduler applied them (only a running run takes them). */
  readonly updateLedger: (
    runId: string,
    fields: Readonly<Record<string, Schema.Json>>,
    options?: UpdateLedgerOptions
  ) => Promise<LedgerUpdateReply>
  /**
   * `value` (a run's state, a task's output) with its blob references replaced by what they
   * stand for: JSON content, or the part of a stored list a reference names. References to
   * other media types (a PDF a stage stored) stay as they are; read them with `readBlob`.
   */
  readonly resolve: (value: unknown) => Promise<unknown>
  /** The bytes of a stored blob of any media type, checked against the reference's digest. */
  readonly readBlob: (ref: BlobRef) => Promise<Uint8Array>
  /** Ends open event subscriptions and the NATS connection; calling it again resolves once the first call has finished. */
  readonly close: () => Promise<void>
}

/** Connects to a Switchyard deployment over NATS. */
export const connect = (options: ConnectOptions): Promise<SwitchyardConnection> => {
  // The blob store is an object store bucket on the same connection, opened when first read.
  const live = Layer.merge(SwitchyardClient.layer, NatsBlobStore.layer()).pipe(
    Layer.provide(NatsBus.layer({ url: options.natsUrl, name: options.name ?? "switchyard-client" })),
    Layer.provide(Layer.succeed(Subjects, makeNames(options.prefix ?? "")))
  )
  const runtime = ManagedRuntime.make(live)
  // Each submitted run's event subscription has its own scope, closed when its
  // events end or are abandoned, or when the connection closes.
  const open = new Set<Scope.Closeable>()

  const closeScope = (scope: Scope.Closeable) =>
    Effect.suspend(() => {
      open.delete(scope)
      return Scope.close(scope, Exit.void)
    })

  const submitRun = (submit: SubmitRunOptions) =>
    runtime.runPromise(
      Effect.gen(function* () {
        const client = yield* SwitchyardClient
        const scope = yield* Scope.make()
        open.add(scope)
        const run = yield* client.submitRun(submit).pipe(
          Scope.provide(scope),
          Effect.onError(() => closeScope(scope))
        )
        const events = run.events.pipe(Stream.ensuring(closeScope(scope)))
        return { runId: run.runId, events: Stream.toAsyncIterable(events) }
      })
    )

  const watchRuns = () =>
    runtime.runPromise(
      Effect.gen(function* () {
        const client = yield* SwitchyardClient
        const scope = yield* Scope.make()
        open.add(scope)
        const events = yield* client.watchRuns().pipe(
          Scope.provide(scope),
          Effect.onError(() => closeScope(scope))
        )
        return Stream.toAsyncIterable(events.pipe(Stream.ensuring(closeScope(scope))))
      })
    )

  // Closing is idempotent: a later call (an explicit close, then `await using`; a signal handler racing
  // a `finally`) waits for the first one instead of running on a disposed runtime.
  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= runtime.runPromise(Effect.forEach([...open], closeScope, { discard: true })).then(() => runtime.dispose()))

  const connection: SwitchyardConnection = {
    submitRun,
    watchRuns,
    getRun: (runId) => runtime.runPromise(SwitchyardClient.use((client) => client.getRun(runId))).then(Option.getOrUndefined),
    cancelRun: (runId, reason) => runtime.runPromise(SwitchyardClient.use((client) => client.cancelRun(runId, reason))),
    runTask: (task) => runtime.runPromise(SwitchyardClient.use((client) => client.runTask(task))),
    updateLedger: (runId, fields, ledger) =>
      runtime.runPromise(SwitchyardClient.use((client) => client.updateLedger(runId, fields, ledger))),
    resolve: (value) => runtime.runPromise(resolveBlobs(value)),
    readBlob: (ref) => runtime.runPromise(BlobStore.use((store) => store.get(ref))),
    close,
    [Symbol.asyncDispose]: close
  }
  // Build the layer now so a bad URL or an unreachable server rejects `connect`.
  return runtime.runPromise(Effect.void).then(
    () => connection,
    (error: unknown) => runtime.dispose().then(() => Promise.reject(error))
  )
}
