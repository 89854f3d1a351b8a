// Proof of reserves' Merkle sum tree and proofs (src/reserves): every leaf's proof verifies, any
// tampering (balance, sibling hash or sum, salt, leaf index, root, signature, reserve figure) is
// rejected with its reason, and a negative balance is refused at build and at verify.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  proofJson,
  type ReservesProof,
  type ReservesPublication,
  signPublication,
  verifyReservesProof,
} from "../../src/reserves/proof.ts";
import {
  EMPTY_HASH,
  leafHash,
  nodeOf,
  proofLength,
  rootFromPath,
  SumTree,
} from "../../src/reserves/sum-tree.ts";

const secret = sha256(new TextEncoder().encode("test reserves secret"));
const signingKey = sha256(new TextEncoder().encode("test reserves key"));
const saltSource = { secret, publicationId: 7 };

function publish(tree: SumTree, reservesUnits: bigint): ReservesPublication {
  return signPublication(
    {
      publicationId: 7,
      asset: "BTC",
      scale: 8,
      createdAtMs: 1_700_000_000_000,
      leafCount: tree.leafCount,
      rootHash: bytesToHex(tree.root),
      liabilitiesUnits: tree.totalUnits.toString(),
      reservesUnits: reservesUnits.toString(),
      reserveAddresses: [
        { chain: "devnet-btc", role: "hot", address: "bcrt1hot", balanceUnits: reservesUnits.toString() },
      ],
    },
    signingKey,
  );
}

/** Leaves: ascending unique ids with balances ≥ 0. */
const leavesArbitrary = fc
  .uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 70 })
  .chain((ids) =>
    fc.record({
      accountIds: fc.constant([...ids].sort((a, b) => a - b)),
      balancesUnits: fc.array(fc.bigInt({ min: 0n, max: 2n ** 53n }), {
        minLength: ids.length,
        maxLength: ids.length,
      }),
    }),
  );

/** The textbook recursive root over the same bytes. */
function naiveRoot(
  accountIds: number[],
  balances: bigint[],
  tree: SumTree,
): { hash: Uint8Array; sumUnits: bigint } {
  let level = accountIds.map((id, index) => ({
    hash: leafHash(tree.proof(index).salt, id, balances[index]),
    sumUnits: balances[index],
  }));
  while (level.length > 1) {
    const next = [];
    for (let index = 0; index < level.length; index += 2)
      next.push(nodeOf(level[index], level[index + 1] ?? { hash: EMPTY_HASH, sumUnits: 0n }));
    level = next;
  }
  return level[0];
}

describe("Merkle sum tree", () => {
  it("every leaf's proof verifies against the signed root, and matches a naive build", () => {
    fc.assert(
      fc.property(leavesArbitrary, ({ accountIds, balancesUnits }) => {
        const tree = SumTree.build({ accountIds, balancesUnits }, saltSource);
        const total = balancesUnits.reduce((a, b) => a + b, 0n);
        expect(tree.totalUnits).toBe(total);
        const naive = naiveRoot(accountIds, balancesUnits, tree);
        expect(bytesToHex(naive.hash)).toBe(bytesToHex(tree.root));
        const publication = publish(tree, total);
        const root = bytesToHex(tree.root);
        for (let index = 0; index < accountIds.length; index++) {
          const proof = tree.proof(index);
          expect(proof.path).toHaveLength(proofLength(accountIds.length));
          expect(tree.indexOf(accountIds[index])).toBe(index);
          const result = verifyReservesProof(JSON.parse(JSON.stringify(proofJson(publication, proof))), root);
          expect(result).toMatchObject({ ok: true, accountId: accountIds[index], fullyBacked: true });
        }
      }),
      { numRuns: 60 },
    );
  });

  it("rejects any tampering with its reason", () => {
    fc.assert(
      fc.property(
        leavesArbitrary.filter((l) => l.accountIds.length >= 2),
        fc.nat(),
        fc.bigInt({ min: 1n, max: 1000n }),
        ({ accountIds, balancesUnits }, pick, delta) => {
          const tree = SumTree.build({ accountIds, balancesUnits }, saltSource);
          const publication = publish(tree, tree.totalUnits);
          const root = bytesToHex(tree.root);
          const index = pick % accountIds.length;
          const good = proofJson(publication, tree.proof(index));
          const tampered = (change: (proof: ReservesProof) => void): string => {
            const copy = JSON.parse(JSON.stringify(good)) as ReservesProof;
            change(copy);
            const result = verifyReservesProof(copy, root);
            expect(result.ok).toBe(false);
            return result.ok ? "" : result.reason;
          };
          expect(
            tampered((p) => (p.leaf.balanceUnits = (BigInt(p.leaf.balanceUnits) + delta).toString())),
          ).toMatch(/does not sum/);
          const step = pick % good.path.length;
          expect(
            tampered((p) => (p.path[step].sumUnits = (BigInt(p.path[step].sumUnits) + delta).toString())),
          ).toMatch(/does not sum/);
          expect(
            tampered(
              (p) => (p.path[step].hash = p.path[step].hash.replace(/^./, (c) => (c === "0" ? "1" : "0"))),
            ),
          ).toMatch(/leads to root/);
          expect(
            tampered((p) => (p.leaf.salt = p.leaf.salt.replace(/^./, (c) => (c === "0" ? "1" : "0")))),
          ).toMatch(/leads to root/);
          expect(tampered((p) => (p.leaf.accountId += 1))).toMatch(/leads to root|not an integer/);
          expect(tampered((p) => (p.leaf.balanceUnits = "-1"))).toMatch(/negative/);
          expect(tampered((p) => (p.path[step].sumUnits = "-5"))).toMatch(/negative/);
          // The whole publication rebuilt around a fake root: the root the user holds gives it away.
          const otherRoot = bytesToHex(sha256(tree.root));
          const wrong = verifyReservesProof(good, otherRoot);
          expect(wrong).toEqual({ ok: false, reason: expect.stringMatching(/^wrong root/) });
          expect(
            tampered(
              (p) => (p.publication.reservesUnits = (BigInt(p.publication.reservesUnits) + 1n).toString()),
            ),
          ).toMatch(/bad signature/);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuses a negative balance, a bad id order and a too large total at build", () => {
    expect(() => SumTree.build({ accountIds: [1, 2], balancesUnits: [5n, -1n] }, saltSource)).toThrow(
      /negative/,
    );
    expect(() => SumTree.build({ accountIds: [2, 1], balancesUnits: [5n, 1n] }, saltSource)).toThrow(
      /ascending/,
    );
    expect(() => SumTree.build({ accountIds: [1, 1], balancesUnits: [5n, 1n] }, saltSource)).toThrow(
      /ascending/,
    );
    expect(() => SumTree.build({ accountIds: [0], balancesUnits: [5n] }, saltSource)).toThrow(/≥ 1/);
    expect(() =>
      SumTree.build({ accountIds: [1, 2], balancesUnits: [2n ** 63n, 2n ** 63n] }, saltSource),
    ).toThrow(/64 bits/);
    expect(() =>
      SumTree.build(
        { accountIds: [1], balancesUnits: [1n] },
        { secret: new Uint8Array(3), publicationId: 1 },
      ),
    ).toThrow(/secret/);
  });

  it("a tree of no users has the empty root and a total of 0; a one-leaf tree's root is the leaf", () => {
    const empty = SumTree.build({ accountIds: [], balancesUnits: [] }, saltSource);
    expect(empty.totalUnits).toBe(0n);
    expect(bytesToHex(empty.root)).toBe(bytesToHex(EMPTY_HASH));
    const one = SumTree.build({ accountIds: [9], balancesUnits: [4n] }, saltSource);
    const proof = one.proof(0);
    expect(proof.path).toEqual([]);
    expect(bytesToHex(rootFromPath(proof, []).hash)).toBe(bytesToHex(one.root));
  });

  it("the salt differs per user and per publication, and reveals nothing of the secret's other salts", () => {
    const a = SumTree.build({ accountIds: [1, 2], balancesUnits: [1n, 1n] }, saltSource);
    const b = SumTree.build({ accountIds: [1, 2], balancesUnits: [1n, 1n] }, { secret, publicationId: 8 });
    expect(bytesToHex(a.proof(0).salt)).not.toBe(bytesToHex(a.proof(1).salt));
    expect(bytesToHex(a.proof(0).salt)).not.toBe(bytesToHex(b.proof(0).salt));
    expect(bytesToHex(a.root)).not.toBe(bytesToHex(b.root));
  });
});

describe("verifying a proof file", () => {
  const tree = SumTree.build({ accountIds: [3, 5, 8], balancesUnits: [100n, 250n, 0n] }, saltSource);
  const root = bytesToHex(tree.root);

  it("reports the balance, the totals and whether reserves back the liabilities", () => {
    const short = publish(tree, 300n);
    expect(verifyReservesProof(proofJson(short, tree.proof(1)), root)).toEqual({
      ok: true,
      publicationId: 7,
      asset: "BTC",
      accountId: 5,
      balance: "0.0000025",
      liabilities: "0.0000035",
      reserves: "0.000003",
      fullyBacked: false,
      rootHash: root,
      publicKey: bytesToHex(ed25519.getPublicKey(signingKey)),
    });
  });

  it("checks the exchange's key when given, and rejects malformed input with a reason", () => {
    const publication = publish(tree, 350n);
    const proof = proofJson(publication, tree.proof(0));
    expect(verifyReservesProof(proof, root, { publicKeyHex: publication.publicKey }).ok).toBe(true);
    expect(verifyReservesProof(proof, root, { publicKeyHex: "00".repeat(32) })).toMatchObject({
      ok: false,
      reason: /not the exchange's key/,
    });
    // A key that signed it but is not the exchange's: re-signed with another key.
    const forged = proofJson(signPublication({ ...publication }, sha256(new Uint8Array(1))), tree.proof(0));
    expect(verifyReservesProof(forged, root).ok).toBe(true);
    expect(verifyReservesProof(forged, root, { publicKeyHex: publication.publicKey }).ok).toBe(false);
    for (const [bad, reason] of [
      [null, /not an object/],
      ["text", /not an object/],
      [{ ...proof, format: "x" }, /format/],
      [{ ...proof, path: "x" }, /path/],
      [{ ...proof, path: proof.path.slice(1) }, /siblings/],
      [{ ...proof, leaf: { ...proof.leaf, leafIndex: 9 } }, /outside/],
      [{ ...proof, leaf: { ...proof.leaf, balanceUnits: "1.5" } }, /whole number/],
      [{ ...proof, leaf: { ...proof.leaf, balanceUnits: 100 } }, /decimal string/],
      [{ ...proof, publication: { ...proof.publication, signature: "zz" } }, /signature/],
    ] as const)
      expect(verifyReservesProof(bad, root)).toMatchObject({
        ok: false,
        reason: expect.stringMatching(reason),
      });
    expect(verifyReservesProof(proof, "not-hex")).toMatchObject({ ok: false, reason: /root you were given/ });
  });
});
