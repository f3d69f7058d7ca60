import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { fanOutSuite } from "./FanOutSuite.ts"

fanOutSuite("the in-memory bus", () => MemoryBus.layer)
