import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { processStageSuite } from "./ProcessStageSuite.ts"

processStageSuite("the in-memory bus", () => MemoryBus.layer)
