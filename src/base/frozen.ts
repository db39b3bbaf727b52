/** Deep freezing of parsed JSON values, and knowing later that a value is frozen all the way down. */

/** Objects frozen by {@link deepFreeze} with everything in them: nothing in them can change. */
const deeplyFrozen = new WeakSet<object>();

/**
 * Freezes a JSON value (objects and arrays) and everything in it, and records every object it
 * reached, so {@link isDeepFrozen} holds for the root and for any member. For trees without
 * cycles (what `JSON.parse` makes).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) freezeAll(value);
  return value;
}

function freezeAll(value: object): void {
  if (deeplyFrozen.has(value)) return;
  Object.freeze(value);
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    if (typeof v === 'object' && v !== null) freezeAll(v);
  }
  deeplyFrozen.add(value);
}

/** True when `value` (an object) was frozen by {@link deepFreeze}, alone or inside another value. */
export function isDeepFrozen(value: unknown): boolean {
  return typeof value === 'object' && value !== null && deeplyFrozen.has(value);
}
