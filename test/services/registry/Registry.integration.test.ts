import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { registrySuite } from "./RegistrySuite.ts"

registrySuite("NATS", () => NatsBus.layer({ url: inject("natsUrl") }))
