/*
 * The contract between the native supervisor and the controller is written once
 * (src/supervisor/contract/contract.json) and generated into a C header and a TypeScript module.
 * These tests fail when either generated file is stale, or when the C compiler reads any value of
 * the header differently from the module (a probe compiled against the header prints them all).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { C_NAMES, COMMAND, GRANT, LIMITS } from '../src/supervisor/contract/contract.js';
import { ROOT } from './helpers.js';

const GENERATOR = path.join(ROOT, 'scripts/gen-contract.mjs');

describe('the supervisor contract', () => {
  it('has its generated C header and TypeScript module up to date with the spec', () => {
    const r = (() => {
      try {
        execFileSync(process.execPath, [GENERATOR, '--check'], { stdio: 'pipe' });
        return '';
      } catch (e) {
        return String((e as { stderr?: Buffer }).stderr ?? e);
      }
    })();
    expect(r).toBe('');
  });

  it('notices a generated file that no longer matches the spec', () => {
    // The check itself must fail on a stale file: run it on a copy of the tree with one edited spec value.
    const tmp = fs.mkdtempSync(path.join(ROOT, 'build/contract-'));
    try {
      for (const rel of [
        'scripts/gen-contract.mjs',
        'src/supervisor/contract/contract.json',
        'src/supervisor/contract/contract.ts',
        'src/supervisor/native/contract.h',
      ]) {
        fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
        fs.copyFileSync(path.join(ROOT, rel), path.join(tmp, rel));
      }
      const spec = path.join(tmp, 'src/supervisor/contract/contract.json');
      const edited = JSON.parse(fs.readFileSync(spec, 'utf8'));
      edited.limits.virtualFdBase.value = 1024;
      fs.writeFileSync(spec, JSON.stringify(edited, null, 2));
      let failed = false;
      try {
        execFileSync(process.execPath, [path.join(tmp, 'scripts/gen-contract.mjs'), '--check'], { stdio: 'pipe' });
      } catch (e) {
        failed = /contract\.h is stale/.test(String((e as { stderr?: Buffer }).stderr));
      }
      expect(failed).toBe(true);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('reads the same values in C as in TypeScript', () => {
    const out = path.join(ROOT, 'build/test/contract-probe');
    const src = path.join(ROOT, 'build/test/contract-probe.c');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(
      src,
      [
        '#include <stdint.h>',
        '#include <stdio.h>',
        `#include "${path.join(ROOT, 'src/supervisor/native/contract.h')}"`,
        '#define NUMBER(n) printf("%s %lld\\n", #n, (long long)(n));',
        '#define STRING(n) printf("%s \'%s\'\\n", #n, n);',
        'int main(void) {',
        '  CONTRACT_NUMBERS(NUMBER)',
        '  CONTRACT_STRINGS(STRING)',
        '  printf("GRANT_WIRE(GRANT_NONE) %d\\n", GRANT_WIRE(GRANT_NONE));',
        '  printf("GRANT_WIRE(GRANT_OWN_TREE) %d\\n", GRANT_WIRE(GRANT_OWN_TREE));',
        '  return 0;',
        '}',
        '',
      ].join('\n'),
    );
    execFileSync(process.env.CC ?? 'cc', ['-Wall', '-Werror', '-o', out, src], { stdio: 'inherit' });
    const c = execFileSync(out, { encoding: 'utf8' }).trim().split('\n');
    const ts = Object.entries(C_NAMES).map(([k, v]) => `${k} ${typeof v === 'string' ? `'${v}'` : v}`);
    expect(c.slice(0, ts.length)).toEqual(ts);
    // Grants travel as u16 values: 65536 plus the code.
    expect(c.slice(ts.length)).toEqual([
      `GRANT_WIRE(GRANT_NONE) ${0x10000 + GRANT.none}`,
      `GRANT_WIRE(GRANT_OWN_TREE) ${0x10000 + GRANT.ownTree}`,
    ]);
    expect(COMMAND.read).toBe('R'.charCodeAt(0));
    expect(LIMITS.virtualFdBase).toBe(512);
  });
});
