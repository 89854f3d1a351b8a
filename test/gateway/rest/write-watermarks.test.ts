import { describe, expect, it } from "vitest";
import { WriteWatermarks } from "../../../src/gateway/exmo/write-watermarks.ts";

describe("WriteWatermarks (read-your-writes bookkeeping)", () => {
  it("keeps each user's highest sequence and never goes back", () => {
    const marks = new WriteWatermarks(10);
    marks.record(1, 5);
    marks.record(1, 3);
    marks.record(2, 7);
    expect(marks.sequenceFor(1)).toBe(5);
    expect(marks.sequenceFor(2)).toBe(7);
    expect(marks.sequenceFor(3)).toBe(0);
  });

  it("stays bounded: an evicted user, and every unknown one, waits for the evicted sequence", () => {
    const marks = new WriteWatermarks(2);
    marks.record(1, 10);
    marks.record(2, 20);
    marks.record(1, 30); // user 1 is now the most recent writer
    marks.record(3, 40); // evicts user 2 (least recently written)
    expect(marks.size).toBe(2);
    expect(marks.sequenceFor(2)).toBe(20);
    expect(marks.sequenceFor(99)).toBe(20);
    expect(marks.sequenceFor(1)).toBe(30);
    expect(marks.sequenceFor(3)).toBe(40);
  });
});
