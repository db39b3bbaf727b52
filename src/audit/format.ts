/**
 * The two faces of an audit report: a table for a terminal (digests shortened to 12 hex
 * characters, every line at most `width` columns) and JSON for scripts (the report as is, full
 * digests). Pure.
 */
import { digestHex12 } from '../plan/plan.js';
import type { AuditReport, IntegrationEntry, PodEntry } from './report.js';

/** Table width: a wide terminal; long names are cut with an ellipsis, finding messages wrapped (JSON has everything). */
export const DEFAULT_TABLE_WIDTH = 100;
/** Narrowest width honoured; below it the table would be all ellipses. */
export const MIN_TABLE_WIDTH = 40;

/**
 * Control characters (C0, DEL, C1) and bidirectional overrides. Annotations, names and error
 * messages are written by whoever can edit a namespace; printed raw, an escape sequence in one
 * would drive the operator's terminal, and a bidi override would make a line read differently.
 */
// eslint-disable-next-line no-control-regex -- control characters are what this pattern finds
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Replaces characters that would act on a terminal instead of being shown with `?`. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, '?');
}

/** Cuts a line to `width` columns, marking the cut with an ellipsis; unprintable characters become `?`. */
export function fit(line: string, width: number): string {
  const clean = printable(line);
  return clean.length <= width ? clean : `${clean.slice(0, width - 1)}…`;
}

/** Wraps `text` at `width` columns, continuation lines indented by `indent` spaces; over-long words are split. */
export function wrap(text: string, width: number, indent: number): string[] {
  text = printable(text);
  const lines: string[] = [];
  let line = '';
  const pad = ' '.repeat(indent);
  for (let word of text.split(/\s+/).filter((w) => w !== '')) {
    for (;;) {
      const sep = line === '' || line === pad ? '' : ' ';
      if (line.length + sep.length + word.length <= width) {
        line += sep + word;
        break;
      }
      if (line.trim() !== '') {
        lines.push(line);
        line = pad;
        continue;
      }
      // A word longer than the room left on an empty line: split it.
      const room = width - line.length;
      line += word.slice(0, room);
      word = word.slice(room);
      lines.push(line);
      line = pad;
    }
  }
  if (line.trim() !== '') lines.push(line);
  return lines;
}

/** `repo:tag@<12 hex>` for a reference and a digest. */
function withShortDigest(reference: string, digest: string): string {
  return `${reference}@${digestHex12(digest)}`;
}

function podLines(pod: PodEntry): string[] {
  const state = pod.injected ? (pod.runs.length > 0 ? '' : '  (resolution unknown)') : pod.requested.length > 0 ? '  NOT INJECTED' : '';
  const lines = [`  pod ${pod.name}  since ${pod.since ?? '?'}  ${pod.phase ?? ''}${state}`.trimEnd()];
  for (const r of pod.runs) {
    const how = r.mode === 'image-volume' ? '  (image volume)' : '';
    lines.push(`    runs    ${withShortDigest(r.reference, r.digest)}${r.stale === true ? '  (stale)' : ''}${how}`);
  }
  return lines;
}

function integrationLines(e: IntegrationEntry): string[] {
  const where = e.object === 'none' ? 'pods only' : e.object;
  const lines = [`${e.namespace}/${e.name}  (${where}, ${e.pods.length} pod${e.pods.length === 1 ? '' : 's'})`];
  lines.push(`  asked     ${e.requested.length > 0 ? e.requested.join(', ') : '-'}`);
  if (e.pins.length === 0) lines.push('  pinned    -');
  for (const p of e.pins) lines.push(`  pinned    ${withShortDigest(p.reference, p.digest)}`);
  for (const pod of e.pods) lines.push(...podLines(pod));
  return lines;
}

/** The report as a table for a terminal: one block per integration, then the findings. */
export function formatTable(report: AuditReport, width = DEFAULT_TABLE_WIDTH): string {
  const w = Math.max(MIN_TABLE_WIDTH, Math.floor(width));
  const out: string[] = [];
  const scope = report.allNamespaces ? 'all namespaces' : `namespace ${report.namespace ?? '?'}`;
  if (!report.camelApi) out.push(fit('(the API serves no camel.apache.org/v1 Integrations: pods only)', w));
  if (report.integrations.length === 0) out.push(fit(`no integration asks for container dependencies in ${scope}`, w));
  for (const e of report.integrations) {
    for (const line of integrationLines(e)) out.push(fit(line, w));
    out.push('');
  }
  for (const t of report.tags) {
    out.push(
      fit(
        'error' in t
          ? `tag ${t.reference} not checked: ${t.error.code}`
          : `tag ${t.reference} now names ${digestHex12(t.index ?? t.digest)}`,
        w,
      ),
    );
  }
  if (report.tags.length > 0) out.push('');
  if (report.findings.length === 0) {
    out.push(fit(`no findings (${scope})`, w));
  } else {
    out.push(fit(`FINDINGS (${report.findings.length})`, w));
    for (const f of report.findings) {
      const subject = `${f.namespace}/${f.integration}${f.pod !== undefined ? ` pod ${f.pod}` : ''}`;
      out.push(...wrap(`${f.code}  ${subject}: ${f.message}`, w, 4));
    }
  }
  return out.join('\n').replace(/\n+$/, '');
}

/** The report as JSON for scripts: the report object, indented, full digests (shape in README.md). */
export function formatJson(report: AuditReport): string {
  return JSON.stringify(report, null, 2);
}
