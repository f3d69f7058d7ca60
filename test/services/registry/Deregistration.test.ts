import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { deregistrationSuite } from "./DeregistrationSuite.ts"

deregistrationSuite("in-memory", () => MemoryBus.layer)
