import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Controller, Policy, VirtualFS } from 'pypy-box';

// Some host data for the guest: a CSV file, a private one, and a file that is no CSV.
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-data-'));
fs.mkdirSync(path.join(data, 'private'));
fs.writeFileSync(path.join(data, 'sales.csv'), 'month,total\njan,10\nfeb,32\n');
fs.writeFileSync(path.join(data, 'private', 'salaries.csv'), 'name,pay\nann,99\n');
fs.writeFileSync(path.join(data, 'notes.txt'), 'not shown\n');

// The host directory is seen at /srv/data: CSV files only, the private part refused.
const policy = new Policy()
  .allowRead(data, { at: '/srv/data' })
  .deny('/srv/data/private/**', ['read', 'list'], 'private data');
const vfs = new VirtualFS();
vfs.mountTmp('/tmp', { quotaBytes: 8 << 20 });
vfs.mountDevices('/dev');
vfs.mountHost('/srv/data', data, { include: ['**/*.csv'] });
vfs.addFile('/etc/motd', 'hello\n');

const code = `
import csv, os
print(open('/etc/motd').read().strip(), sorted(os.listdir('/srv/data')))
print('total', sum(int(row['total']) for row in csv.DictReader(open('/srv/data/sales.csv'))))
try:
    open('/srv/data/private/salaries.csv')
except PermissionError as e:
    print('private:', e.strerror)
`;
// The interpreter's own installation is added to the tree read-only, at its host paths.
const result = await new Controller({ python: 'pypy3', args: ['-c', code], policy, vfs, timeout: 10_000 }).run();
fs.rmSync(data, { recursive: true });

console.log(result.stdout.toString().trim()); // hello ['private', 'sales.csv'], total 42, private: Permission denied
console.log(result.denied.map((d) => d.reason)); // [ 'private data' ]
