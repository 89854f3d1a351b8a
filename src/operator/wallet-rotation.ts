// `bulwark wallet rotate --chain C` as an operator action (issue 8 §5): the rotation itself is the
// composition root's (src/server/wallet-rotation.ts: a signer child adds a wallet generation, the
// running signer restarts, custody switches), given to OperatorActions as a WalletRotationPort;
// here the audit entry ("wallet.rotate"), the users' notice and the incident's timeline entry.

import type { IncidentPort } from "../incidents/port.ts";

/** What a rotation did (the same object offline and through the operator API). */
export interface WalletRotationResult {
  chain: string;
  /** The new active wallet generation (1 after the first rotation). */
  generation: number;
  /** Its exported public keys (labels hot, deposit). */
  publicKeys: { label: string; key: string }[];
  /** Its hot address: where payments leave from and sweeps arrive from now on. */
  hotAddress: string;
  /** The derivation account new deposit addresses come from. */
  depositAccount: number;
  /** The retired generations' hot (and change) addresses, emptied into the new one by policy-signed rotateHot transfers. */
  retiredHotAddresses: string[];
  /** False when the keystore already held the generation (a rotation that stopped before publishing it). */
  created: boolean;
  /** "running": the signer restarted and custody switched now; "nextStart": offline, both at the next start. */
  applied: "running" | "nextStart";
}

export interface WalletRotationView extends WalletRotationResult {
  /** Whether the users' notice went out (no incident service offline). */
  noticeSent: boolean;
  /** The incident whose timeline got a "rotation" entry, or null. */
  incidentId: number | null;
}

/** Does the rotation; throws an OperatorError (invalid, notFound, conflict) for bad input. */
export interface WalletRotationPort {
  rotate(chain: string): Promise<WalletRotationResult>;
}

export interface WalletRotationDeps {
  rotation: WalletRotationPort;
  /** The incident service, when the server runs one. */
  incidents: IncidentPort | null;
  audit(action: string, subject: string, details: Record<string, unknown>): Promise<unknown>;
}

/** The notice users read on the status page and on WebSocket. */
export function rotationNotice(result: WalletRotationResult): string {
  return (
    `${result.chain}: the exchange's deposit addresses were rotated. Request a new deposit address ` +
    "before your next deposit; deposits to your old address are still credited."
  );
}

export async function rotateWalletAction(
  deps: WalletRotationDeps,
  actor: string,
  input: { chain: string; incidentId?: number },
): Promise<WalletRotationView> {
  const incidentId = input.incidentId ?? null;
  // Checked before anything changes: a rotation recorded against no incident is not wanted.
  if (incidentId !== null && deps.incidents !== null && (await deps.incidents.get(incidentId)) === undefined)
    throw new RotationInputError(`no incident ${incidentId}`);
  const result = await deps.rotation.rotate(input.chain);
  // Audited as soon as the keys changed, before the notice (which may fail and be sent again by hand).
  await deps.audit("wallet.rotate", `chain:${result.chain}`, {
    ...result,
    incidentId,
    notice: deps.incidents !== null,
  });
  let noticeSent = false;
  if (deps.incidents !== null) {
    const message = rotationNotice(result);
    if (incidentId !== null)
      await deps.incidents.record(incidentId, {
        type: "rotation",
        actor,
        message: `wallet rotated to generation ${result.generation}`,
        detail: {
          chain: result.chain,
          generation: result.generation,
          hotAddress: result.hotAddress,
          depositAccount: result.depositAccount,
          retiredHotAddresses: result.retiredHotAddresses,
        },
      });
    await deps.incidents.notify(incidentId, { kind: "rotation", chain: result.chain, message, actor });
    noticeSent = true;
  }
  return { ...result, noticeSent, incidentId };
}

/** A bad `--incident`: thrown before anything changed (OperatorActions maps it to "notFound"). */
export class RotationInputError extends Error {
  override name = "RotationInputError";
}
