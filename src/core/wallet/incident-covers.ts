// The covered-loss table: one entry per (incident, asset) whose stolen amount the books have
// written off (docs/CORE.md, "Covering a loss"). It makes a cover happen once per incident and
// asset, and tells `bulwark insurance status` what each incident cost. Bounded by MAX_INCIDENT_COVERS.

import type { LossCoverSource } from "../commands.ts";

/** Covers the core keeps; a command past it is rejected with limitReached. */
export const MAX_INCIDENT_COVERS = 10_000;

export interface IncidentCover {
  readonly incidentId: number;
  readonly assetId: number;
  readonly amountUnits: number;
  readonly source: LossCoverSource;
}

/** `incidentId:assetId`: both are integers, so the ":" is unambiguous. */
export function incidentCoverKey(incidentId: number, assetId: number): string {
  return `${incidentId}:${assetId}`;
}

export class IncidentCovers {
  /** In the order covered (the snapshot writes them in this order). */
  private readonly byKey = new Map<string, IncidentCover>();

  get size(): number {
    return this.byKey.size;
  }

  has(incidentId: number, assetId: number): boolean {
    return this.byKey.has(incidentCoverKey(incidentId, assetId));
  }

  add(cover: IncidentCover): void {
    this.byKey.set(incidentCoverKey(cover.incidentId, cover.assetId), cover);
  }

  values(): IterableIterator<IncidentCover> {
    return this.byKey.values();
  }
}
