/**
 * A model of the small subset of CEL the webhook configuration's matchConditions use, so their
 * truth tables can be checked without an apiserver: `||`, `&&`, `!`, `==`, `!=`, `in`, member
 * access, `[...]` on maps, `has(a.b)`, `type(x)` against `string`/`list`/`map`, `null`, string
 * literals in single quotes, and the methods `exists(v, e)`, `startsWith`, `trim`. Anything else is
 * a parse error (naming it), so an expression using more than this is noticed, not misjudged.
 *
 * Semantics follow the CEL specification where it matters for guards: a missing field, a field of
 * null or an index of a missing key is an error value; `&&` and `||` absorb errors when the other
 * side decides the result (false && error is false, true || error is true, in either order); any
 * other operation on an error is an error. This is NOT cel-go: it cannot prove that the apiserver
 * accepts an expression, only that the guards and the logic are right for the inputs tested.
 */

/** The result of evaluating: a value, or an error (CEL's error value). */
export type CelResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

type Node =
  | { t: 'lit'; v: unknown }
  | { t: 'ident'; name: string }
  | { t: 'not'; e: Node }
  | { t: 'bin'; op: '&&' | '||' | '==' | '!=' | 'in'; l: Node; r: Node }
  | { t: 'member'; e: Node; name: string }
  | { t: 'index'; e: Node; key: Node }
  | { t: 'has'; e: Node & { t: 'member' } }
  | { t: 'type'; e: Node }
  | { t: 'call'; target: Node; name: string; args: Node[] }
  | { t: 'exists'; target: Node; v: string; body: Node };

const TYPE_NAMES = ['string', 'list', 'map', 'bool'] as const;
const METHODS = ['startsWith', 'trim'] as const;

/** Splits an expression into tokens; throws on a character outside the subset. */
export function tokenize(src: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      const end = src.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated string at ${i}`);
      if (src.slice(i + 1, end).includes('\\')) throw new Error('escapes in strings are outside the modelled subset');
      out.push(src.slice(i, end + 1));
      i = end + 1;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (['&&', '||', '==', '!='].includes(two)) {
      out.push(two);
      i += 2;
      continue;
    }
    if ('!().,[]'.includes(c)) {
      out.push(c);
      i++;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (word === null) throw new Error(`unexpected character ${JSON.stringify(c)} at ${i}`);
    out.push(word[0]);
    i += word[0].length;
  }
  return out;
}

/** Parses an expression of the subset; throws naming what is outside it. */
export function parseCel(src: string): Node {
  const toks = tokenize(src);
  let p = 0;
  const peek = (): string | undefined => toks[p];
  const eat = (want?: string): string => {
    const t = toks[p];
    if (t === undefined) throw new Error(`unexpected end, wanted ${want ?? 'a token'}`);
    if (want !== undefined && t !== want) throw new Error(`expected ${want}, got ${t} (token ${p})`);
    p++;
    return t;
  };
  const or = (): Node => {
    let l = and();
    while (peek() === '||') {
      eat();
      l = { t: 'bin', op: '||', l, r: and() };
    }
    return l;
  };
  const and = (): Node => {
    let l = rel();
    while (peek() === '&&') {
      eat();
      l = { t: 'bin', op: '&&', l, r: rel() };
    }
    return l;
  };
  const rel = (): Node => {
    const l = unary();
    const op = peek();
    if (op === '==' || op === '!=' || op === 'in') {
      eat();
      return { t: 'bin', op, l, r: unary() };
    }
    return l;
  };
  const unary = (): Node => {
    if (peek() === '!') {
      eat();
      return { t: 'not', e: unary() };
    }
    return postfix(primary());
  };
  const postfix = (e: Node): Node => {
    for (;;) {
      if (peek() === '.') {
        eat();
        const name = eat();
        if (!/^[A-Za-z_]/.test(name)) throw new Error(`bad member name ${name}`);
        if (peek() === '(') {
          eat('(');
          if (name === 'exists') {
            const v = eat();
            eat(',');
            const body = or();
            eat(')');
            e = { t: 'exists', target: e, v, body };
            continue;
          }
          if (!(METHODS as readonly string[]).includes(name)) throw new Error(`method ${name} is outside the modelled subset`);
          const args: Node[] = [];
          while (peek() !== ')') {
            args.push(or());
            if (peek() === ',') eat(',');
          }
          eat(')');
          e = { t: 'call', target: e, name, args };
          continue;
        }
        e = { t: 'member', e, name };
      } else if (peek() === '[') {
        eat('[');
        const key = or();
        eat(']');
        e = { t: 'index', e, key };
      } else {
        return e;
      }
    }
  };
  const primary = (): Node => {
    const t = eat();
    if (t.startsWith("'")) return { t: 'lit', v: t.slice(1, -1) };
    if (t === '(') {
      const e = or();
      eat(')');
      return e;
    }
    if (t === 'null') return { t: 'lit', v: null };
    if (t === 'true' || t === 'false') return { t: 'lit', v: t === 'true' };
    if (t === 'has') {
      eat('(');
      const e = postfix(primary());
      eat(')');
      if (e.t !== 'member') throw new Error('has() takes a field selection a.b');
      return { t: 'has', e };
    }
    if (t === 'type') {
      eat('(');
      const e = or();
      eat(')');
      return { t: 'type', e };
    }
    if ((TYPE_NAMES as readonly string[]).includes(t)) return { t: 'lit', v: { celType: t } };
    if (/^[A-Za-z_]/.test(t)) return { t: 'ident', name: t };
    throw new Error(`unexpected token ${t}`);
  };
  const node = or();
  if (p !== toks.length) throw new Error(`unexpected ${toks[p]} after the expression (token ${p})`);
  return node;
}

const ok = (value: unknown): CelResult => ({ ok: true, value });
const err = (error: string): CelResult => ({ ok: false, error });
const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !('celType' in (v as object));

function typeOf(v: unknown): string {
  if (v === null) return 'null_type';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double';
  if (Array.isArray(v)) return 'list';
  return 'map';
}

function equal(a: unknown, b: unknown): boolean {
  if (isTypeValue(a) || isTypeValue(b)) return isTypeValue(a) && isTypeValue(b) && a.celType === b.celType;
  return JSON.stringify(a) === JSON.stringify(b);
}
function isTypeValue(v: unknown): v is { celType: string } {
  return v !== null && typeof v === 'object' && 'celType' in (v as object);
}

/** Evaluates a parsed expression with the given variables (`object`, `oldObject`, `request`). */
export function evalCel(node: Node, vars: Readonly<Record<string, unknown>>): CelResult {
  switch (node.t) {
    case 'lit':
      return ok(node.v);
    case 'ident':
      return Object.hasOwn(vars, node.name) ? ok(vars[node.name]) : err(`undeclared reference to ${node.name}`);
    case 'not': {
      const r = evalCel(node.e, vars);
      if (!r.ok) return r;
      return typeof r.value === 'boolean' ? ok(!r.value) : err('no such overload: !_');
    }
    case 'bin': {
      if (node.op === '&&' || node.op === '||') {
        const decisive = node.op === '||';
        const l = evalCel(node.l, vars);
        const r = evalCel(node.r, vars);
        for (const side of [l, r]) if (side.ok && side.value === decisive) return ok(decisive);
        for (const side of [l, r]) if (side.ok && typeof side.value !== 'boolean') return err(`no such overload: ${node.op}`);
        if (!l.ok) return l;
        if (!r.ok) return r;
        return ok(!decisive);
      }
      const l = evalCel(node.l, vars);
      if (!l.ok) return l;
      const r = evalCel(node.r, vars);
      if (!r.ok) return r;
      if (node.op === 'in') {
        if (isMap(r.value)) return typeof l.value === 'string' ? ok(Object.hasOwn(r.value, l.value)) : err('no such overload: in');
        if (Array.isArray(r.value)) return ok(r.value.some((x) => equal(x, l.value)));
        return err('no such overload: in');
      }
      const same = equal(l.value, r.value);
      return ok(node.op === '==' ? same : !same);
    }
    case 'member': {
      const r = evalCel(node.e, vars);
      if (!r.ok) return r;
      if (!isMap(r.value)) return err(`no such key: ${node.name} (on ${typeOf(r.value)})`);
      return Object.hasOwn(r.value, node.name) ? ok(r.value[node.name]) : err(`no such key: ${node.name}`);
    }
    case 'index': {
      const r = evalCel(node.e, vars);
      if (!r.ok) return r;
      const k = evalCel(node.key, vars);
      if (!k.ok) return k;
      if (!isMap(r.value) || typeof k.value !== 'string') return err('no such overload: _[_]');
      return Object.hasOwn(r.value, k.value) ? ok(r.value[k.value]) : err(`no such key: ${k.value}`);
    }
    case 'has': {
      const r = evalCel(node.e.e, vars);
      if (!r.ok) return r;
      if (!isMap(r.value)) return err(`has(): no such overload on ${typeOf(r.value)}`);
      return ok(Object.hasOwn(r.value, node.e.name));
    }
    case 'type': {
      const r = evalCel(node.e, vars);
      if (!r.ok) return r;
      return ok({ celType: typeOf(r.value) });
    }
    case 'call': {
      const target = evalCel(node.target, vars);
      if (!target.ok) return target;
      if (typeof target.value !== 'string') return err(`no such overload: ${node.name} on ${typeOf(target.value)}`);
      if (node.name === 'trim') return node.args.length === 0 ? ok(target.value.trim()) : err('trim takes no argument');
      if (node.args.length !== 1) return err('startsWith takes one argument');
      const a = evalCel(node.args[0]!, vars);
      if (!a.ok) return a;
      return typeof a.value === 'string' ? ok(target.value.startsWith(a.value)) : err('no such overload: startsWith');
    }
    case 'exists': {
      const target = evalCel(node.target, vars);
      if (!target.ok) return target;
      if (!Array.isArray(target.value)) return err(`exists on ${typeOf(target.value)}`);
      // exists is a macro over ||: an error is absorbed by a later true.
      let firstError: CelResult | undefined;
      for (const x of target.value) {
        const r = evalCel(node.body, { ...vars, [node.v]: x });
        if (r.ok && r.value === true) return ok(true);
        if (!r.ok || typeof r.value !== 'boolean') firstError ??= r.ok ? err('exists body is not a bool') : r;
      }
      return firstError ?? ok(false);
    }
  }
}

/** Parses and evaluates; a parse error throws. */
export function evaluate(expression: string, vars: Readonly<Record<string, unknown>>): CelResult {
  return evalCel(parseCel(expression), vars);
}

/**
 * What the apiserver does with a webhook's matchConditions: any false skips the webhook; all true
 * calls it; otherwise (an error, none false) `failurePolicy: Fail` rejects the request.
 */
export function matchConditionsOutcome(
  conditions: ReadonlyArray<{ expression: string }>,
  vars: Readonly<Record<string, unknown>>,
): 'call' | 'skip' | 'error' {
  const results = conditions.map((c) => evaluate(c.expression, vars));
  if (results.some((r) => r.ok && r.value === false)) return 'skip';
  if (results.every((r) => r.ok && r.value === true)) return 'call';
  return 'error';
}
