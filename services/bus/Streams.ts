/**
 * The JetStream streams and consumers Switchyard declares, in one place so
 * every service that ensures them (idempotent create-or-update) asks for the
 * same configuration.
 */
import type { Duration } from "effect"
import type { ConsumerConfig, StreamConfig } from "./Bus.ts"
import type { Names } from "@switchyard/schemas/Subjects"

/** Dedupe window: longer than a scheduler restart, so re-sent tasks and results are stored once. */
export const duplicateWindow = "10 minutes"

/** `task.run.>`: the work queue every pool consumes from. */
export const tasksStream = (names: Names): StreamConfig => ({
  name: names.streams.tasks,
  subjects: [names.taskRunAll],
  duplicateWindow,
  retention: "workqueue"
})

/** `task.result.>`: results, consumed by the scheduler. */
export const resultsStream = (names: Names): StreamConfig => ({
  name: names.streams.results,
  subjects: [names.taskResultAll],
  duplicateWindow,
  retention: "workqueue"
})

/** The scheduler's durable consumer of results. */
export const schedulerConsumer = (
  names: Names,
  options: { readonly ackWait: Duration.Input; readonly maxAckPending: number }
): ConsumerConfig => ({
  stream: names.streams.results,
  durable: names.consumers.scheduler,
  filterSubject: names.taskResultAll,
  ackWait: options.ackWait,
  maxDeliver: 10,
  maxAckPending: options.maxAckPending,
  deadLetterSubject: names.deadLetter("task.result")
})

/** `dead.>`: poison and undeliverable messages, kept for inspection (limits retention). */
export const deadLetterStream = (names: Names): StreamConfig => ({
  name: names.streams.deadLetters,
  subjects: [names.deadLetterAll],
  duplicateWindow: "2 minutes",
  retention: "limits"
})

/** The scheduler's durable consumer of tasks that could not be delivered: their stages fail. */
export const undeliverableTasksConsumer = (names: Names): ConsumerConfig => ({
  stream: names.streams.deadLetters,
  durable: `${names.consumers.scheduler}-dead-tasks`,
  filterSubject: names.deadLetter("task.run"),
  ackWait: "30 seconds",
  maxDeliver: 10,
  maxAckPending: 64
})

/** `audit.>`: the registry's (and plugin host's) audit entries, kept for inspection (limits retention). */
export const auditStream = (names: Names): StreamConfig => ({
  name: names.streams.audit,
  subjects: [names.auditAll],
  duplicateWindow: "2 minutes",
  retention: "limits"
})
