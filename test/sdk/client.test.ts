import * as MemoryBus from "../../services/bus/MemoryBus.ts"
import { clientSuite } from "./clientSuite.ts"

clientSuite("memory", () => MemoryBus.layer)
