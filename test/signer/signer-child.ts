// The signer process of the end-to-end test: src/signer/main.ts with the fake chain's plugin.
import { runSignerProcess } from "../../src/signer/main.ts";
import { fakePlugin } from "./fake-plugin.ts";

await runSignerProcess([fakePlugin]);
