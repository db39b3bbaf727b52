/**
 * Kubernetes resource quantities (`512Mi`, `100m`, `1`, `1e3`): enough of the apimachinery grammar
 * to validate configured values and compare them. Pure.
 */

const QUANTITY = /^\+?(\d+(?:\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

const SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Parses a non-negative quantity to its numeric value (bytes, cores...), or undefined when it is not one. */
export function parseQuantity(text: string): number | undefined {
  if (text.length > 64) return undefined;
  const m = QUANTITY.exec(text);
  if (m === null) return undefined;
  const number = Number(m[1]);
  const suffix = m[2] ?? '';
  const factor = /^[eE][+-]?\d/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SUFFIX[suffix];
  if (factor === undefined) return undefined;
  const value = number * factor;
  return Number.isFinite(value) ? value : undefined;
}

/** Formats a byte count as whole mebibytes, rounding up (`536870912` → `512Mi`). */
export function formatMebibytes(bytes: number): string {
  return `${Math.max(1, Math.ceil(bytes / 2 ** 20))}Mi`;
}

/** Quantities the fetcher's `--max-unpacked-bytes` parser reads with the same meaning as Kubernetes. */
const FETCHER_SIZE = /^\d+(?:Ki|Mi|Gi)?$/;

/**
 * Writes a byte quantity the way the fetcher's size flag reads it: unchanged when it is plain
 * digits or uses Ki, Mi or Gi; otherwise (k, M, T, Ti, exponents, fractions...) as whole bytes,
 * rounded down so the fetcher stops before the kubelet's limit is reached. Undefined when `text`
 * is not a quantity.
 */
export function fetcherSizeText(text: string): string | undefined {
  if (FETCHER_SIZE.test(text)) return text;
  const bytes = parseQuantity(text);
  // BigInt prints every finite value as digits (Number prints 1e21 and above in exponent form).
  return bytes === undefined ? undefined : BigInt(Math.floor(bytes)).toString();
}
