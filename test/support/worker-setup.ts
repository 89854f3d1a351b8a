// vitest setupFiles (vitest.config.ts): runs in the worker before each test file.

import { useWorkerDatabase } from "./postgres-database.ts";

await useWorkerDatabase();
