import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LruMap } from "../../src/lib/lru.ts";

/** The obvious model: an array of entries, least recently used first. */
class NaiveLru {
  entries: [number, number][] = [];
  evicted: [number, number][] = [];
  constructor(readonly maxEntries: number) {}

  private indexOf(key: number): number {
    return this.entries.findIndex(([k]) => k === key);
  }

  get(key: number): number | undefined {
    const index = this.indexOf(key);
    if (index < 0) return undefined;
    const [entry] = this.entries.splice(index, 1);
    this.entries.push(entry);
    return entry[1];
  }

  peek(key: number): number | undefined {
    const index = this.indexOf(key);
    return index < 0 ? undefined : this.entries[index][1];
  }

  set(key: number, value: number): void {
    const index = this.indexOf(key);
    if (index >= 0) this.entries.splice(index, 1);
    else if (this.entries.length >= this.maxEntries) this.evicted.push(this.entries.shift()!);
    this.entries.push([key, value]);
  }

  delete(key: number): boolean {
    const index = this.indexOf(key);
    if (index >= 0) this.entries.splice(index, 1);
    return index >= 0;
  }
}

const key = fc.integer({ min: 0, max: 9 });
const operation = fc.oneof(
  fc.record({ op: fc.constant("get" as const), key }),
  fc.record({ op: fc.constant("peek" as const), key }),
  fc.record({ op: fc.constant("has" as const), key }),
  fc.record({ op: fc.constant("set" as const), key, value: fc.integer() }),
  fc.record({ op: fc.constant("delete" as const), key }),
  fc.record({ op: fc.constant("clear" as const) }),
);

describe("LruMap", () => {
  it("behaves like the naive model under any sequence of operations", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(operation, { maxLength: 200 }), (max, ops) => {
        const evicted: [number, number][] = [];
        const lru = new LruMap<number, number>(max, (k, v) => evicted.push([k, v]));
        const model = new NaiveLru(max);
        for (const step of ops) {
          switch (step.op) {
            case "get":
              expect(lru.get(step.key)).toBe(model.get(step.key));
              break;
            case "peek":
              expect(lru.peek(step.key)).toBe(model.peek(step.key));
              break;
            case "has":
              expect(lru.has(step.key)).toBe(model.peek(step.key) !== undefined);
              break;
            case "set":
              lru.set(step.key, step.value);
              model.set(step.key, step.value);
              break;
            case "delete":
              expect(lru.delete(step.key)).toBe(model.delete(step.key));
              break;
            case "clear":
              lru.clear();
              model.entries = [];
              break;
          }
          expect(lru.size).toBe(model.entries.length);
          expect(lru.size).toBeLessThanOrEqual(max);
          expect([...lru.keys()]).toEqual(model.entries.map(([k]) => k));
          expect(evicted).toEqual(model.evicted);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("evicts the least recently used key, where get refreshes and peek does not", () => {
    const lru = new LruMap<string, number>(2);
    lru.set("a", 1);
    lru.set("b", 2);
    expect(lru.peek("a")).toBe(1); // no refresh: "a" is still the oldest
    lru.set("c", 3);
    expect([...lru.keys()]).toEqual(["b", "c"]);
    expect(lru.get("b")).toBe(2); // refresh: "c" is now the oldest
    lru.set("d", 4);
    expect([...lru.keys()]).toEqual(["b", "d"]);
    lru.set("b", 5); // overwrite: no eviction, "b" moves to the end
    expect([...lru.keys()]).toEqual(["d", "b"]);
    expect(lru.get("b")).toBe(5);
  });

  it("keeps undefined and null values as values, not as absence", () => {
    const lru = new LruMap<string, number | null | undefined>(2);
    lru.set("u", undefined);
    lru.set("n", null);
    expect(lru.has("u")).toBe(true);
    expect(lru.get("u")).toBeUndefined();
    expect([...lru.keys()]).toEqual(["n", "u"]); // the get refreshed "u"
    expect(lru.get("n")).toBeNull();
  });

  it("reports evictions for room only, not deletes or clears", () => {
    const evicted: string[] = [];
    const lru = new LruMap<string, number>(1, (k) => evicted.push(k));
    lru.set("a", 1);
    lru.delete("a");
    lru.set("b", 2);
    lru.set("c", 3);
    lru.clear();
    expect(evicted).toEqual(["b"]);
  });

  it("refuses a bound that is not a positive integer", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => new LruMap(bad)).toThrow(RangeError);
  });
});
