#!/usr/bin/env node
// Runs clang-format over the project's C sources: the native supervisor and client, the C test guests and the
// bench's programs. The files scripts/gen-contract.mjs writes are left out (their layout is the
// generator's, and the contract test compares them byte for byte with its output).
//
// Usage: node scripts/clang-format.mjs           rewrites the files in place (npm run format:c)
//        node scripts/clang-format.mjs --check   changes nothing; exits 1 on any difference (npm run lint:c)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { C_HEADER, C_TABLE } from './gen-contract.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['src/supervisor/native', 'src/server/native', 'test/guest', 'bench'];
const generated = new Set([C_HEADER, C_TABLE]);

const sources = FOLDERS.flatMap((folder) =>
  fs
    .readdirSync(path.join(root, folder))
    .filter((name) => /\.[ch]$/.test(name))
    .map((name) => path.join(root, folder, name)),
).filter((file) => !generated.has(file));

const mode = process.argv.includes('--check') ? ['--dry-run', '--Werror'] : ['-i'];
try {
  execFileSync('clang-format', [...mode, ...sources], { stdio: 'inherit' });
} catch (err) {
  if (err.code === 'ENOENT') console.error('clang-format is not installed (Debian: apt-get install clang-format)');
  process.exit(1);
}
