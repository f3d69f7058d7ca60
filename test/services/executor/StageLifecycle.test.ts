import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { stageLifecycleSuite } from "./StageLifecycleSuite.ts"

stageLifecycleSuite("the in-memory bus", () => MemoryBus.layer)
