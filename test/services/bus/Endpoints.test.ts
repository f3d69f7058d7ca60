import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { endpointsSuite } from "./EndpointsSuite.ts"

endpointsSuite("the in-memory bus", () => MemoryBus.layer)
