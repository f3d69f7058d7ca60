import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { executorSuite } from "./ExecutorSuite.ts"

executorSuite("the in-memory bus", () => MemoryBus.layer)
