import { MemoryBus } from "../../../services/bus/index.ts"
import { registrySuite } from "./RegistrySuite.ts"

registrySuite("memory", () => MemoryBus.layer)
