#!/usr/bin/env node
// Generates the copies of the contract between the native supervisor and the controller from its
// one spec, src/supervisor/contract/contract.json: the C header src/supervisor/native/contract.h,
// the fate table src/supervisor/native/syscall_table.c and the TypeScript module
// src/supervisor/contract/contract.ts. All are checked in (an installed package builds the
// supervisor without this script).
//
// Usage: node scripts/gen-contract.mjs           writes both files (npm run gen:contract)
//        node scripts/gen-contract.mjs --check   writes nothing; exits 1 when either is stale
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SPEC = path.join(root, 'src/supervisor/contract/contract.json');
export const C_HEADER = path.join(root, 'src/supervisor/native/contract.h');
export const TS_MODULE = path.join(root, 'src/supervisor/contract/contract.ts');
export const C_TABLE = path.join(root, 'src/supervisor/native/syscall_table.c');
const FATES_WITH_KINDS = new Set(['FWD', 'FD', 'FDN', 'FDX', 'DUP']);
const FATES_WITH_ERRNO = new Set(['ERR', 'REFUSE']);
const ROW_FLAGS = { local: 'CALL_LOCAL', stdio: 'CALL_STDIO' };
const BANNER =
  'Generated from src/supervisor/contract/contract.json by scripts/gen-contract.mjs (npm run gen:contract): do not edit.';

const entries = (o) => Object.entries(o).filter(([k]) => !k.startsWith('$'));
/** maxChunk -> MAX_CHUNK, open-files -> OPEN_FILES. */
const upper = (name) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toUpperCase();
const cChar = (c) => `'${c === "'" || c === '\\' ? '\\' + c : c}'`;
const keywordOf = (doc) => doc.split(' ')[0];

function load() {
  const spec = JSON.parse(fs.readFileSync(SPEC, 'utf8'));
  for (const [name, c] of entries(spec.commands))
    if (typeof c.byte !== 'string' || c.byte.length !== 1) throw new Error(`contract: command ${name} needs one byte`);
  const frameBytes = entries(spec.server.frames).map(([, f]) => f.byte);
  if (
    !frameBytes.every((b) => typeof b === 'string' && b.length === 1) ||
    new Set(frameBytes).size !== frameBytes.length
  )
    throw new Error('contract: server frames need one distinct byte each');
  for (const [name, g] of entries(spec.report.grants))
    if (!Number.isInteger(g.code) || g.code >= 0 || g.code < -16)
      throw new Error(`contract: grant ${name} needs a small negative code`);
  for (const [group, calls] of entries(spec.relay ?? {}))
    for (const [name, sig] of entries(calls))
      if (typeof sig !== 'string' || !/^[a-z0-9_]+\([psli]{0,6}\)[piv]$/.test(sig))
        throw new Error(`contract: relay ${group}.${name} needs a signature`);
  const seen = new Set();
  for (const row of syscallRows(spec)) {
    const [name, fate, arg = '', flags = ''] = row;
    if (seen.has(name)) throw new Error(`contract: system call ${name} listed twice`);
    seen.add(name);
    if (!Object.hasOwn(spec.syscalls.fates, fate)) throw new Error(`contract: ${name} has an unknown fate ${fate}`);
    const argOk = FATES_WITH_KINDS.has(fate)
      ? /^[psli]{0,6}$/.test(arg)
      : FATES_WITH_ERRNO.has(fate)
        ? /^(E[A-Z]+|0)$/.test(arg)
        : arg === '';
    if (!argOk || !/^[a-z0-9_]+$/.test(name)) throw new Error(`contract: ${name}: ${fate} with ${JSON.stringify(arg)}`);
    if (flags && !flags.split(',').every((f) => Object.hasOwn(ROW_FLAGS, f)))
      throw new Error(`contract: ${name} has unknown flags ${flags}`);
  }
  return spec;
}

/** Every row of the fate table, in order: [name, fate, kinds or errno, flags]. */
function syscallRows(spec) {
  return spec.syscalls ? spec.syscalls.table.flatMap((s) => s.rows) : [];
}

function cTable(spec) {
  const out = [
    `/* ${BANNER} */`,
    '/* The fate of every system call a stock interpreter may make (what each fate means: syscalls.h). */',
    '#include "syscalls.h"',
    '',
    '#include <errno.h>',
    '#include <sys/syscall.h>',
    '',
    'const struct syscall_fate FATES[] = {',
  ];
  for (const section of spec.syscalls.table) {
    out.push(`  /* ---- ${section.section} ---- */`);
    for (const [name, fate, arg = '', flags = ''] of section.rows) {
      // The signature keeps the kinds l and s: encode_call sends l as i, s with its path.
      const sig = FATES_WITH_KINDS.has(fate) ? `${name}(${arg})i` : name;
      const flagBits = flags
        ? flags
            .split(',')
            .map((f) => ROW_FLAGS[f])
            .join(' | ')
        : '0';
      out.push(`  {SYS_${name}, "${sig}", ${fate}, ${FATES_WITH_ERRNO.has(fate) ? arg : 0}, ${flagBits}},`);
    }
  }
  out.push('};', 'const size_t N_FATES = sizeof FATES / sizeof FATES[0];', '');
  return out.join('\n');
}

/** Every value both sides must read alike, by its C name: numbers and strings. */
export function contractValues(spec = load()) {
  const values = {};
  for (const [name, c] of entries(spec.commands)) values[`CMD_${upper(name)}`] = c.byte.charCodeAt(0);
  for (const [name, s] of entries(spec.status)) values[`STATUS_${upper(name)}`] = s.charCodeAt(0);
  values.REPORT_MARKER = spec.report.marker;
  for (const [name, g] of entries(spec.report.grants)) values[`GRANT_${upper(name)}`] = g.code;
  for (const [name, l] of entries(spec.limits)) values[upper(name)] = l.value;
  for (const [name, f] of entries(spec.server.frames)) values[`FRAME_${upper(name)}`] = f.byte.charCodeAt(0);
  for (const [name, doc] of entries(spec.notes.keywords)) values[`NOTE_${upper(name)}`] = keywordOf(doc);
  for (const n of spec.notes.limitNames) values[`LIMIT_NAME_${upper(n)}`] = n;
  for (const n of spec.notes.reachedNames) values[`REACHED_NAME_${upper(n)}`] = n;
  for (const [group, calls] of entries(spec.relay ?? {}))
    for (const [name, sig] of entries(calls)) values[`RELAY_${upper(group)}_${upper(name)}`] = sig;
  return values;
}

function cHeader(spec) {
  const out = [`/* ${BANNER} */`, '#ifndef PYPY_BOX_CONTRACT_H', '#define PYPY_BOX_CONTRACT_H', ''];
  out.push('/* Commands of the controller after a forwarded call (final ones end the call). */');
  for (const [name, c] of entries(spec.commands))
    out.push(`#define CMD_${upper(name)} ${cChar(c.byte)} /* ${c.final ? 'final: ' : ''}${c.doc} */`);
  out.push('', "/* The first byte of the supervisor's reply to R, Z and V. */");
  for (const [name, s] of entries(spec.status)) out.push(`#define STATUS_${upper(name)} ${cChar(s)}`);
  out.push(
    '',
    "/* A report starts with this byte where a call's signature length would be. */",
    `#define REPORT_MARKER ${spec.report.marker}`,
  );
  out.push('', '/* Report grants besides an index; on the wire a u16, 65536 plus the code (GRANT_WIRE). */');
  for (const [name, g] of entries(spec.report.grants))
    out.push(`#define GRANT_${upper(name)} (${g.code}) /* ${g.doc} */`);
  out.push('#define GRANT_WIRE(g) ((uint16_t)((g) < 0 ? 65536 + (g) : (g)))');
  out.push('', '/* Limits both sides keep. */');
  for (const [name, l] of entries(spec.limits)) out.push(`#define ${upper(name)} ${l.value} /* ${l.doc} */`);
  out.push('', "/* The notes' keywords (the first word of each line) and the limit names they carry. */");
  for (const [name, doc] of entries(spec.notes.keywords))
    out.push(`#define NOTE_${upper(name)} "${keywordOf(doc)}" /* ${doc} */`);
  for (const n of spec.notes.limitNames) out.push(`#define LIMIT_NAME_${upper(n)} "${n}"`);
  for (const n of spec.notes.reachedNames) out.push(`#define REACHED_NAME_${upper(n)} "${n}"`);
  if (spec.relay) {
    out.push('', '/* Signatures the relay answers itself, by group (the controller turns each group on). */');
    for (const [group, calls] of entries(spec.relay))
      for (const [name, sig] of entries(calls)) out.push(`#define RELAY_${upper(group)}_${upper(name)} "${sig}"`);
  }
  out.push('', "/* The command server's frames: a byte, a u32 little-endian length, that many bytes. */");
  for (const [name, f] of entries(spec.server.frames))
    out.push(`#define FRAME_${upper(name)} ${cChar(f.byte)} /* ${f.doc} */`);
  const values = contractValues(spec);
  const numbers = Object.keys(values).filter((k) => typeof values[k] === 'number');
  const strings = Object.keys(values).filter((k) => typeof values[k] === 'string');
  out.push('', '/* Every value above, for test/contract.test.ts to compare with the TypeScript module. */');
  out.push(`#define CONTRACT_NUMBERS(X) ${numbers.map((k) => `X(${k})`).join(' ')}`);
  out.push(`#define CONTRACT_STRINGS(X) ${strings.map((k) => `X(${k})`).join(' ')}`);
  out.push('#endif', '');
  return out.join('\n');
}

function tsModule(spec) {
  const out = [
    `// ${BANNER}`,
    '',
    '/** Commands of the controller after a forwarded call, as bytes. */',
    'export const COMMAND = {',
  ];
  for (const [name, c] of entries(spec.commands))
    out.push(
      `  /** ${c.final ? 'Final: ' : ''}${c.doc}. */`,
      `  ${name}: 0x${c.byte.charCodeAt(0).toString(16)}, // '${c.byte}'`,
    );
  out.push(
    '} as const;',
    '',
    "/** The first byte of the supervisor's reply to R, Z and V. */",
    'export const STATUS = {',
  );
  for (const [name, s] of entries(spec.status)) out.push(`  ${name}: 0x${s.charCodeAt(0).toString(16)}, // '${s}'`);
  out.push(
    '} as const;',
    '',
    "/** A report starts with this byte where a call's signature length would be. */",
    `export const REPORT_MARKER = ${spec.report.marker};`,
  );
  out.push(
    '',
    '/** Report grants besides an index; on the wire a u16, 65536 plus the code. */',
    'export const GRANT = {',
  );
  for (const [name, g] of entries(spec.report.grants)) out.push(`  /** ${g.doc}. */`, `  ${name}: ${g.code},`);
  out.push('} as const;', '', '/** Limits both sides keep. */', 'export const LIMITS = {');
  for (const [name, l] of entries(spec.limits)) out.push(`  /** ${l.doc}. */`, `  ${name}: ${l.value},`);
  out.push('} as const;', '', "/** The notes' keywords (the first word of each line). */", 'export const NOTE = {');
  for (const [name, doc] of entries(spec.notes.keywords))
    out.push(`  /** ${doc}. */`, `  ${name}: '${keywordOf(doc)}',`);
  out.push(
    '} as const;',
    '',
    '/** Limits that end the guest (`limit NAME VALUE`). */',
    `export const LIMIT_NAMES = [${spec.notes.limitNames.map((n) => `'${n}'`).join(', ')}] as const;`,
  );
  out.push(
    '/** Limits that refuse calls, the run going on (`reached NAME VALUE COUNT`). */',
    `export const REACHED_NAMES = [${spec.notes.reachedNames.map((n) => `'${n}'`).join(', ')}] as const;`,
  );
  if (spec.relay) {
    out.push('', '/** Signatures the relay answers itself, by group (the controller turns each group on). */');
    out.push('export const RELAY = {');
    for (const [group, calls] of entries(spec.relay)) {
      out.push(`  ${group}: {`);
      for (const [name, sig] of entries(calls)) out.push(`    ${name}: '${sig}',`);
      out.push('  },');
    }
    out.push('} as const;');
  }
  out.push('', "/** The command server's frames: a byte, a u32 little-endian length, that many bytes. */");
  out.push('export const FRAME = {');
  for (const [name, f] of entries(spec.server.frames))
    out.push(`  /** ${f.doc}. */`, `  ${name}: 0x${f.byte.charCodeAt(0).toString(16)}, // '${f.byte}'`);
  out.push('} as const;');
  const values = contractValues(spec);
  out.push(
    '',
    '/** Every value above by its name in the C header, for test/contract.test.ts. */',
    'export const C_NAMES: Readonly<Record<string, number | string>> = {',
  );
  for (const [k, v] of Object.entries(values)) out.push(`  ${k}: ${typeof v === 'string' ? `'${v}'` : v},`);
  out.push('};', '');
  if (!spec.syscalls) return out.join('\n');
  out.push('/** One row of the fate table (src/supervisor/native/syscalls.h says what each fate means). */');
  out.push(
    'export interface SyscallRow {',
    '  name: string;',
    `  fate: ${Object.keys(spec.syscalls.fates)
      .filter((k) => !k.startsWith('$'))
      .map((f) => `'${f}'`)
      .join(' | ')};`,
  );
  out.push(
    '  /** Argument kinds (p pointer, s path sent along, l 64-bit integer, i C int) of a call the controller may see. */',
    '  kinds?: string;',
    '  /** The errno name of an ERR or REFUSE row (0: accepted, nothing done). */',
    '  errno?: string;',
    '  /** The supervisor may answer it from what it was handed (--local). */',
    '  local?: true;',
    "  /** Answered for the guest's own standard streams (--stdio-local). */",
    '  stdio?: true;',
    '}',
    '',
  );
  out.push(
    "/** Every system call a stock interpreter may make, in the filter's order; any other is refused with ENOSYS. */",
    'export const SYSCALLS: readonly SyscallRow[] = [',
  );
  for (const [name, fate, arg = '', flags = ''] of syscallRows(spec)) {
    const fields = [`name: '${name}'`, `fate: '${fate}'`];
    if (FATES_WITH_KINDS.has(fate)) fields.push(`kinds: '${arg}'`);
    if (FATES_WITH_ERRNO.has(fate)) fields.push(`errno: '${arg}'`);
    for (const f of flags ? flags.split(',') : []) fields.push(`${f}: true`);
    out.push(`  { ${fields.join(', ')} },`);
  }
  out.push('];', '');
  return out.join('\n');
}

/** The files as they should be. */
export function generate() {
  const spec = load();
  return {
    [C_HEADER]: cHeader(spec),
    ...(spec.syscalls ? { [C_TABLE]: cTable(spec) } : {}),
    [TS_MODULE]: tsModule(spec),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of Object.entries(generate())) {
    const now = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (now === text) continue;
    if (check) {
      console.error(`pypy-box: ${path.relative(root, file)} is stale: run npm run gen:contract`);
      stale++;
    } else {
      fs.writeFileSync(file, text);
      console.log(`pypy-box: wrote ${path.relative(root, file)}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
