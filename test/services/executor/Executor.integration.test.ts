import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { executorSuite } from "./ExecutorSuite.ts"

executorSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
