import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pypyHandlers } from '../src/index.js';
import { parseSignature } from '../src/protocol/signature.js';
import { ROOT } from './helpers.js';

/** What PyPy 2.7 and 3.6 sandbox-2 builds declare (RPY_SANDBOX_DUMP), with the builds declaring each. */
const declared = fs
  .readFileSync(path.join(ROOT, 'test/data/pypy-sandbox-funcs.txt'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => line.split(' ')[0]!);

describe('the PyPy handler table', () => {
  it('answers every function a sandbox-2 PyPy (2.7 or 3.6) declares', () => {
    expect(declared.length).toBe(160);
    const missing = declared.filter((sig) => !(sig in pypyHandlers));
    expect(missing).toEqual([]);
  });

  it('has only well-formed signatures', () => {
    for (const sig of Object.keys(pypyHandlers)) expect(parseSignature(sig).text).toBe(sig);
  });
});
