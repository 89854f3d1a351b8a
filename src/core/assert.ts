// Assertions for the core's preconditions, postconditions and invariants. A failed assertion is
// a bug, never a user error: user errors become `rejected` events.

export class CoreInvariantError extends Error {
  override name = "CoreInvariantError";
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CoreInvariantError(message);
}
