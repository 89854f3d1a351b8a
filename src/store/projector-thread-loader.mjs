// Entry of the projector's worker thread: loads projector-thread.ts through tsx. A worker does
// not inherit the parent's tsx loader, and on Node 20 `execArgv: ["--import", "tsx"]` does not
// reach a worker's module loader ("Unknown file extension .ts"), so the worker registers tsx
// itself. Works the same under vitest, `node --import tsx` and bin/bulwark.mjs.
import { tsImport } from "tsx/esm/api";

await tsImport("./projector-thread.ts", import.meta.url);
