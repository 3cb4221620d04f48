import { errnoName } from '../platform/index.js';
import type { CallRecord, TraceEntry } from './trace.js';

function showArg(v: number | bigint, kind: string): string {
  if (kind === 'p') return v === 0n ? 'NULL' : `0x${v.toString(16)}`;
  return String(v);
}

function showResult(r: number | bigint | undefined, kind: string): string {
  if (r === undefined || kind === 'v') return 'void';
  if (kind === 'p') return r === 0n || r === 0 ? 'NULL' : `0x${BigInt(r).toString(16)}`;
  return String(r);
}

/** One human line for a call, as `--verbose` prints it and `pypy-box trace` lists it. */
export function formatCall(rec: CallRecord): string {
  const open = rec.sig.indexOf('(');
  const kinds = rec.sig.slice(open + 1, rec.sig.indexOf(')')).replace(/v/g, '');
  const resultKind = rec.sig.slice(rec.sig.indexOf(')') + 1);
  const args = rec.args.map((a, k) => {
    if (kinds[k] === 'p' && k === 0 && rec.path !== undefined) return JSON.stringify(rec.path);
    return showArg(a, kinds[k] ?? 'i');
  });
  let line = `${rec.sig.slice(0, open)}(${args.join(', ')})`;
  if (rec.path !== undefined && !(kinds[0] === 'p')) line += ` ${JSON.stringify(rec.path)}`;
  if (rec.path2 !== undefined) line += ` -> ${JSON.stringify(rec.path2)}`;
  if (rec.note) line += ` [${rec.note}]`;
  line += ` = ${showResult(rec.result, resultKind)}`;
  if (rec.errno) line += ` ${errnoName(rec.errno)}`;
  if (rec.reason) line += ` (${rec.allowed === false ? 'denied: ' : ''}${rec.reason})`;
  return line;
}

/** The readable listing plus a per-signature summary of a trace. */
export function formatTrace(entries: TraceEntry[]): string {
  const lines: string[] = [];
  const stats = new Map<string, { calls: number; errors: number; denied: number; us: number; bytes: number }>();
  for (const e of entries) {
    if (e.type === 'header') {
      lines.push(
        `# ${e.format} v${e.version}, started ${e.started}`,
        `# guest ${e.guest}: ${[e.executable, ...e.argv.slice(1)].join(' ')}`,
      );
    } else if (e.type === 'footer') {
      lines.push(
        `# ended: ${e.outcome}, exit code ${e.exitCode ?? '-'}, signal ${e.signal ?? '-'}, ${e.calls} calls, ${e.denials} denied, ${e.durationMs} ms${e.error ? `, error: ${e.error}` : ''}`,
      );
    } else {
      lines.push(`${String(e.seq).padStart(6)} ${(e.t / 1000).toFixed(3).padStart(10)}ms  ${formatCall(e)}`);
      const s = stats.get(e.sig) ?? { calls: 0, errors: 0, denied: 0, us: 0, bytes: 0 };
      s.calls++;
      if (e.errno) s.errors++;
      if (e.allowed === false) s.denied++;
      s.us += e.us;
      s.bytes += e.toGuest + e.fromGuest;
      stats.set(e.sig, s);
    }
  }
  lines.push(
    '',
    'Summary by signature:',
    `${'signature'.padEnd(28)} ${'calls'.padStart(8)} ${'errors'.padStart(7)} ${'denied'.padStart(7)} ${'bytes'.padStart(12)} ${'total ms'.padStart(10)}`,
  );
  const rows = [...stats.entries()].sort((a, b) => b[1].calls - a[1].calls);
  for (const [sig, s] of rows) {
    lines.push(
      `${sig.padEnd(28)} ${String(s.calls).padStart(8)} ${String(s.errors).padStart(7)} ${String(s.denied).padStart(7)} ${String(s.bytes).padStart(12)} ${(s.us / 1000).toFixed(2).padStart(10)}`,
    );
  }
  return lines.join('\n') + '\n';
}
