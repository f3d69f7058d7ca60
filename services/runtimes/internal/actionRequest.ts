/**
 * The `ActionRequest` a plugin process reads for one task, from the task and
 * its work directory; the one-shot runtime and the warm pool send the same.
 */
import type { ActionRequest } from "@switchyard/schemas/WorkerProtocol"

/** The task fields a request carries. */
export interface RequestFields {
  readonly action: string
  readonly input: unknown
  readonly taskId: string
  readonly runId: string
  readonly attempt: number
  readonly vars: Readonly<Record<string, string>>
  readonly secrets: Readonly<Record<string, string>>
}

/** The request of a task running in `workDir`. */
export const actionRequest = (task: RequestFields, workDir: string): ActionRequest => ({
  version: 1,
  action: task.action,
  input: task.input,
  taskId: task.taskId,
  runId: task.runId,
  attempt: task.attempt,
  vars: task.vars,
  secrets: task.secrets,
  workDir
})
