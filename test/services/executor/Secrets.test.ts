import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { secretsSuite } from "./SecretsSuite.ts"

secretsSuite("the in-memory bus", () => MemoryBus.layer)
