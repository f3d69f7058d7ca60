import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { schedulerSuite } from "./SchedulerSuite.ts"

schedulerSuite("the in-memory bus", () => MemoryBus.layer)
