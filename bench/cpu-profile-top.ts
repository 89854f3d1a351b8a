// Prints the functions with the most self time in a V8 .cpuprofile (from `node --cpu-prof`):
//   node --import tsx bench/cpu-profile-top.ts FILE.cpuprofile [count]

import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error("usage: cpu-profile-top.ts FILE.cpuprofile [count]");
const count = Number(process.argv[3] ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<string, number>();
let totalUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  if (node === undefined) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const where =
    url === "" ? "" : ` ${url.replace(/^.*\/(src|bench|node_modules)\//, "$1/")}:${lineNumber + 1}`;
  const key = `${functionName === "" ? "(anonymous)" : functionName}${where}`;
  const delta = profile.timeDeltas[i] ?? 0;
  selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
  totalUs += delta;
}
const top = [...selfUs.entries()].sort((a, b) => b[1] - a[1]).slice(0, count);
console.log(`total ${(totalUs / 1e3).toFixed(0)} ms sampled`);
for (const [name, us] of top)
  console.log(
    `${((us / totalUs) * 100).toFixed(1).padStart(5)} %  ${(us / 1e3).toFixed(0).padStart(6)} ms  ${name}`,
  );
