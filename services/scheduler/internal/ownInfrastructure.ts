/**
 * What the scheduler keeps in JetStream, declared in one place so it is put
 * back as it was first made (`@switchyard/bus/Infrastructure`): the task,
 * result and dead-letter streams, its consumers of results and of tasks no
 * replica could take, and the run-state and item-result buckets.
 */
import type { Declarations } from "@switchyard/bus/Infrastructure"
import { deadLetterStream, resultsStream, schedulerConsumer, tasksStream, undeliverableTasksConsumer } from "@switchyard/bus/Streams"
import type { Names } from "@switchyard/schemas/Subjects"
import type { SchedulerSettings } from "../SchedulerConfig.ts"

/** The scheduler's streams, consumers and buckets. */
export const schedulerInfrastructure = (names: Names, config: SchedulerSettings): Declarations => ({
  streams: [tasksStream(names), resultsStream(names), deadLetterStream(names)],
  consumers: [
    undeliverableTasksConsumer(names),
    schedulerConsumer(names, { ackWait: config.resultAckWait, maxAckPending: config.resultConcurrency * 4 })
  ],
  buckets: [names.buckets.runs, names.buckets.items]
})
