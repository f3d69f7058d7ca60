import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { schedulerSuite } from "./SchedulerSuite.ts"

schedulerSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
