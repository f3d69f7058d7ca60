import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { cancelSuite } from "./CancelSuite.ts"

cancelSuite("the in-memory bus", () => MemoryBus.layer)
