// The set of resting order ids as one engine reports them, with O(1) add, remove and
// "pick the k-th". Both engines feed it in a canonical order (removals of one command sorted by
// id, then the taker if it rests), so identical engine behaviour gives identical picks.

export class LiveSet {
  private readonly ids: Float64Array;
  /** position + 1 of an order id in `ids`, 0 when absent; indexed by id - idBase. */
  private readonly pos: Int32Array;
  private count = 0;

  constructor(
    private readonly idBase: number,
    idSpan: number,
  ) {
    this.ids = new Float64Array(idSpan);
    this.pos = new Int32Array(idSpan);
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    const k = id - this.idBase;
    return k >= 0 && k < this.pos.length && this.pos[k] !== 0;
  }

  add(id: number): void {
    const k = id - this.idBase;
    if (this.pos[k] !== 0) return;
    this.ids[this.count] = id;
    this.count += 1;
    this.pos[k] = this.count;
  }

  remove(id: number): void {
    const k = id - this.idBase;
    if (k < 0 || k >= this.pos.length) return;
    const p = this.pos[k];
    if (p === 0) return;
    const last = this.ids[this.count - 1];
    this.ids[p - 1] = last;
    this.pos[last - this.idBase] = p;
    this.pos[k] = 0;
    this.count -= 1;
  }

  /** The live id chosen by a 32-bit draw, or 0 when nothing rests. */
  pick(draw: number): number {
    return this.count === 0 ? 0 : this.ids[draw % this.count];
  }
}

/** Applies one command's removals (sorted, canonical) then the resting taker, if any. */
export function applyLiveChanges(live: LiveSet, removed: number[], restingTaker: number): void {
  if (removed.length > 1) removed.sort((x, y) => x - y);
  for (let i = 0; i < removed.length; i++) live.remove(removed[i]);
  removed.length = 0;
  if (restingTaker !== 0) live.add(restingTaker);
}
