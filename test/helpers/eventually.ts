/**
 * Waits until `check` holds or `timeoutMs` passed, and says which. A bound in time, not in a count
 * of short sleeps: on a loaded machine (a CI runner pinned to one core) 200 sleeps of 5 ms can pass
 * before a server even read a request, and a count of sleeps made such waits fail there. The test
 * asserts the condition itself afterwards, so a wait that ran out reports what did not happen.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export async function eventually(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 15_000, stepMs = 10 }: { timeoutMs?: number; stepMs?: number } = {},
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(stepMs);
  }
}
