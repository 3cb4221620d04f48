/*
 * One row per Linux system call says its whole fate (src/supervisor/contract/contract.json,
 * generated into src/supervisor/native/syscall_table.c and src/supervisor/contract/contract.ts).
 * Checked here row by row: against the controller's handler table (a call the supervisor forwards
 * has a handler under the signature it sends, and a handler serves a call that is forwarded),
 * against what the controller may hand the supervisor to answer itself, and against the table
 * the C compiler actually builds.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SYSCALLS, type SyscallRow } from '../src/supervisor/contract/contract.js';
import { reportableCalls } from '../src/supervisor/delegation.js';
import { linuxHandlers } from '../src/handlers/linux/table.js';
import { ROOT } from './helpers.js';

const FORWARDABLE: ReadonlySet<SyscallRow['fate']> = new Set(['FWD', 'FD', 'FDN', 'FDX', 'DUP']);
/** The key the controller's handler table uses: 64-bit integers are i, paths are pointers. */
const handlerKey = (r: SyscallRow) => `${r.name}(${r.kinds!.replace(/l/g, 'i').replace(/s/g, 'p')})i`;
const NATIVE = path.join(ROOT, 'src/supervisor/native');

describe('the fate table', () => {
  it('gives every call the controller may see a handler under the signature the supervisor sends, row by row', () => {
    const missing = SYSCALLS.filter((r) => FORWARDABLE.has(r.fate) && !Object.hasOwn(linuxHandlers, handlerKey(r))).map(
      handlerKey,
    );
    expect(missing).toEqual([]);
  });

  it('has no handler for a call that never reaches the controller', () => {
    const forwarded = new Set(SYSCALLS.filter((r) => FORWARDABLE.has(r.fate)).map(handlerKey));
    expect(Object.keys(linuxHandlers).filter((sig) => !forwarded.has(sig))).toEqual([]);
  });

  it('marks exactly the calls the controller can hand over as answered by the supervisor', () => {
    // Every name of the table offered in --local: the controller knows the ones it can hand over.
    const all = SYSCALLS.map((r) => r.name).join(',');
    const handed = reportableCalls({ args: ['--local', all], grants: [] });
    const known = SYSCALLS.filter((r) => FORWARDABLE.has(r.fate) && handed.has(handlerKey(r))).map((r) => r.name);
    expect(known.sort()).toEqual(
      SYSCALLS.filter((r) => r.local)
        .map((r) => r.name)
        .sort(),
    );
    const stdio = reportableCalls({ args: ['--stdio-local'], grants: [] });
    expect([...stdio].sort()).toEqual(
      SYSCALLS.filter((r) => r.stdio)
        .map(handlerKey)
        .sort(),
    );
  });

  it('is the table the C compiler builds, row by row (numbers, signatures, errnos, flags)', () => {
    const out = path.join(ROOT, 'build/test/fate-table');
    const src = path.join(ROOT, 'build/test/fate-table.c');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(
      src,
      [
        `#include "${path.join(NATIVE, 'syscalls.h')}"`,
        '#include <stdio.h>',
        'int main(void) {',
        '  for (size_t k = 0; k < N_FATES; k++)',
        '    printf("%d %s %d%s%s\\n", FATES[k].nr, FATES[k].sig, FATES[k].err, FATES[k].flags & CALL_LOCAL ? " local" : "", FATES[k].flags & CALL_STDIO ? " stdio" : "");',
        '  return 0;',
        '}',
        '',
      ].join('\n'),
    );
    execFileSync(process.env.CC ?? 'cc', ['-Wall', '-Werror', '-o', out, src, path.join(NATIVE, 'syscall_table.c')], {
      stdio: 'inherit',
    });
    const c = execFileSync(out, { encoding: 'utf8' }).trim().split('\n');
    // The numbers from the kernel's own header, through the compiler: one per name, none missing.
    const numbers = new Set(c.map((l) => l.split(' ')[0]));
    expect(numbers.size).toBe(SYSCALLS.length);
    const errnos = os.constants.errno as Record<string, number>;
    const ts = SYSCALLS.map((r, k) => {
      const sig = FORWARDABLE.has(r.fate) ? `${r.name}(${r.kinds})i` : r.name;
      const err = r.errno === undefined || r.errno === '0' ? 0 : errnos[r.errno]!;
      return `${c[k]!.split(' ')[0]} ${sig} ${err}${r.local ? ' local' : ''}${r.stdio ? ' stdio' : ''}`;
    });
    expect(c).toEqual(ts);
  });
});
