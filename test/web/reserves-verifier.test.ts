// The Reserves page verifies proofs with the CLI's own code (issue 9 §2): the module the web app
// imports (web/src/public/reserves-verify.ts) hands out the very functions `bulwark reserves
// verify` calls (src/cli/reserves.ts → src/reserves/proof.ts), not a copy, and they accept a real
// proof and refuse a tampered one.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as proofModule from "../../src/reserves/proof.ts";
import { SumTree } from "../../src/reserves/sum-tree.ts";
import * as webVerifier from "../../web/src/public/reserves-verify.ts";

const root = join(import.meta.dirname, "..", "..");

describe("the web's proof-of-reserves verifier", () => {
  it("is the module the CLI runs, not a copy", () => {
    expect(webVerifier.verifyReservesProof).toBe(proofModule.verifyReservesProof);
    expect(webVerifier.verifyPublication).toBe(proofModule.verifyPublication);
    const cli = readFileSync(join(root, "src", "cli", "reserves.ts"), "utf8");
    expect(cli).toMatch(/import \{[^}]*\bverifyReservesProof\b[^}]*\} from "\.\.\/reserves\/proof\.ts"/);
    const web = readFileSync(join(root, "web", "src", "public", "reserves-verify.ts"), "utf8");
    expect(web).toContain('from "../../../src/reserves/proof.ts"');
  });

  it("accepts a real proof and publication, refuses tampered ones with the reason", () => {
    const secretKey = new Uint8Array(32).fill(7);
    const tree = SumTree.build(
      { accountIds: [3, 5, 9], balancesUnits: [100n, 250n, 7n] },
      { secret: new Uint8Array(32).fill(1), publicationId: 4 },
    );
    const publication = proofModule.signPublication(
      {
        publicationId: 4,
        asset: "BTC",
        scale: 8,
        createdAtMs: 1_800_000_000_000,
        leafCount: tree.leafCount,
        rootHash: Buffer.from(tree.root).toString("hex"),
        liabilitiesUnits: tree.totalUnits.toString(),
        reservesUnits: "400",
        reserveAddresses: [
          { chain: "devnet-btc", role: "hot", address: "bcrt1qexample", balanceUnits: "400" },
        ],
      },
      secretKey,
    );
    expect(webVerifier.verifyPublication(publication)).toEqual({ ok: true, publication });
    expect(webVerifier.verifyPublication({ ...publication, reservesUnits: "500" })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("signature"),
    });
    expect(webVerifier.verifyPublication(publication, { publicKeyHex: "ab".repeat(32) })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("not the exchange's key"),
    });
    const proof = proofModule.proofJson(publication, tree.proof(tree.indexOf(5)));
    expect(webVerifier.verifyReservesProof(proof, publication.rootHash)).toMatchObject({
      ok: true,
      accountId: 5,
      balance: "0.0000025",
    });
    const tampered = { ...proof, leaf: { ...proof.leaf, balanceUnits: "251" } };
    expect(webVerifier.verifyReservesProof(tampered, publication.rootHash)).toMatchObject({
      ok: false,
      reason: expect.stringContaining("does not sum"),
    });
  });
});
