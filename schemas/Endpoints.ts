/**
 * Every request/reply endpoint of Switchyard, declared once: the registry's
 * `stage.*` subjects and the scheduler's `run.submit`, `run.cancel` and
 * `ledger.update.<runId>`. Servers and clients derive from these values
 * (`@switchyard/bus/Endpoints`); `docs/protocol.md` describes each.
 */
import { WireType } from "./Catalog.ts"
import { make } from "./Endpoint.ts"
import {
  DeregistrationReply,
  Heartbeat,
  HeartbeatReply,
  RegistrationReply,
  StageDeregistration,
  StageListReply,
  StageListRequest,
  StageRegistration,
  StageResolveReply,
  StageResolveRequest
} from "./Registry.ts"
import { LedgerUpdate, LedgerUpdateReply, RunCancel, RunCancelReply, RunSubmit, RunSubmitReply } from "./Run.ts"

/** An executor announces its pool's stage types; one decision per stage. */
export const StageRegister = make({
  name: "stage.register",
  subject: (names) => names.stageRegister,
  request: StageRegistration,
  requestType: WireType.StageRegistration,
  success: RegistrationReply,
  successType: WireType.RegistrationReply
})

/** An executor withdraws stage types of one plugin; one decision per type. */
export const StageDeregister = make({
  name: "stage.deregister",
  subject: (names) => names.stageDeregister,
  request: StageDeregistration,
  requestType: WireType.StageDeregistration,
  success: DeregistrationReply,
  successType: WireType.DeregistrationReply
})

/** An executor replica is alive (sent as a request, it is answered once recorded). */
export const StageHeartbeat = make({
  name: "stage.heartbeat",
  subject: (names) => names.stageHeartbeat,
  request: Heartbeat,
  requestType: WireType.Heartbeat,
  success: HeartbeatReply,
  successType: WireType.HeartbeatReply
})

/** Every registered stage type. */
export const StageList = make({
  name: "stage.list",
  subject: (names) => names.stageList,
  request: StageListRequest,
  requestType: WireType.StageListRequest,
  emptyRequest: new StageListRequest({ version: 1 }),
  success: StageListReply,
  successType: WireType.StageListReply
})

/** Looks stage types up, with suggestions for unknown ones. */
export const StageResolve = make({
  name: "stage.resolve",
  subject: (names) => names.stageResolve,
  request: StageResolveRequest,
  requestType: WireType.StageResolveRequest,
  success: StageResolveReply,
  successType: WireType.StageResolveReply
})

/** Submits a pipeline; an invalid one is answered with its issues. */
export const RunSubmitEndpoint = make({
  name: "run.submit",
  subject: (names) => names.runSubmit,
  request: RunSubmit,
  requestType: WireType.RunSubmit,
  success: RunSubmitReply,
  successType: WireType.RunSubmitReply
})

/** Cancels a run. */
export const RunCancelEndpoint = make({
  name: "run.cancel",
  subject: (names) => names.runCancel,
  request: RunCancel,
  requestType: WireType.RunCancel,
  success: RunCancelReply,
  successType: WireType.RunCancelReply
})

/** Sets ledger fields of a running run; its subject names the run. */
export const LedgerUpdateEndpoint = make({
  name: "ledger.update",
  subject: (names, update) => names.ledgerUpdate(update.runId),
  listen: (names) => names.ledgerUpdateAll,
  request: LedgerUpdate,
  requestType: WireType.LedgerUpdate,
  success: LedgerUpdateReply,
  successType: WireType.LedgerUpdateReply
})

/** Every endpoint, in the order the protocol documents them. */
export const endpoints = [
  StageRegister,
  StageDeregister,
  StageHeartbeat,
  StageList,
  StageResolve,
  RunSubmitEndpoint,
  RunCancelEndpoint,
  LedgerUpdateEndpoint
] as const
