import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Controller } from 'pypy-box';

// Input files go into the writable /tmp from memory (tmpFiles); what the guest writes there is
// copied to a host directory after the run (exportTo), symlinks left out and reported.
const result = await new Controller({
  python: 'pypy3',
  tmpFiles: { 'sales.csv': 'month,total\njan,10\nfeb,32\n' },
  args: [
    '-c',
    `
import csv, os
total = sum(int(row['total']) for row in csv.DictReader(open('/tmp/sales.csv')))
os.makedirs('/tmp/out')
open('/tmp/out/total.txt', 'w').write(f'{total}\\n')
os.symlink('/etc/passwd', '/tmp/out/passwd')
print('total', total)
`,
  ],
  timeout: 10_000,
}).run();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-out-'));
const report = result.vfs.exportTo('/tmp/out', dir); // the directory is made if missing; existing files are refused
console.log(result.stdout.toString().trim()); // total 42
console.log(fs.readdirSync(dir), fs.readFileSync(path.join(dir, 'total.txt'), 'utf8').trim()); // [ 'total.txt' ] 42
console.log(report.skipped); // [ { path: '/tmp/out/passwd', reason: 'symlink to "/etc/passwd", not followed' } ]
fs.rmSync(dir, { recursive: true });
