// vitest setupFiles (vitest.config.ts): runs in the worker before each test file.

import { useWorkerDatabase } from "./postgres-database.ts";

await useWorkerDatabase();
// Servers the tests start (and the CLI processes they spawn) shed nothing under load: two test
// workers on two cores make event-loop delays that would shed public data at random. Shedding is
// tested on purpose (test/gateway/guard/load-shedder.test.ts, test/drills/flood.test.ts).
process.env.BULWARK_LOAD_SHEDDING ??= "off";
