import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { gateSuite } from "./GateSuite.ts"

gateSuite("the in-memory bus", () => MemoryBus.layer)
