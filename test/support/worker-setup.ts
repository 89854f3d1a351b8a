// vitest setupFiles (vitest.config.ts): runs in the worker before each test file.

import { useWorkerDatabase } from "./postgres-database.ts";

await useWorkerDatabase();
// `bulwark start` processes the tests spawn shed nothing under load (embedded servers default to
// off already): two test workers on two cores make event-loop delays that would shed public data
// at random. Shedding is tested on purpose (test/gateway/guard/, test/drills/flood.test.ts).
process.env.BULWARK_LOAD_SHEDDING ??= "off";
