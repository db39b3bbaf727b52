/**
 * A budget of memory held for request bodies at once, across all admission requests. Each request
 * holds twice its bytes as they arrive (the body, and the string parsing makes of it) and, once
 * scanned, an estimate of the objects parsing makes, until its answer is sent; concurrent bodies
 * near the size limit would otherwise add up past the container's memory limit. A request that does
 * not fit is answered 429, which the apiserver retries under the webhook's failure policy.
 */

/**
 * Bytes held at once for request bodies and what parsing them makes (the body, its string, and a
 * per-value estimate: see webhook/json-shape.ts). One body at the limits costs about 33 MiB; an
 * ordinary pod about 100 KiB, so hundreds fit. Sized for the manifests' 256 MiB memory limit.
 */
export const DEFAULT_BODY_BUDGET_BYTES = 48 * 1024 * 1024;

/** Counts reserved bytes against a fixed budget. */
export class BodyBudget {
  private used = 0;

  constructor(readonly limit: number = DEFAULT_BODY_BUDGET_BYTES) {}

  /** Reserves `bytes` if they fit; false (nothing reserved) otherwise. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  /** Gives back `bytes` reserved earlier. */
  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }
}
