import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { stageBlobsSuite } from "./StageBlobsSuite.ts"

stageBlobsSuite("the in-memory bus", () => MemoryBus.layer)
