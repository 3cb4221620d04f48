import { utsname } from '../handlers/pypy/process.js';
import { Errno, type Platform } from '../platform/index.js';
import type { Policy } from '../policy/policy.js';
import type { Identity } from '../kernel/session.js';
import type { SupervisorView } from '../vfs/supervisor-view.js';
import type { VirtualFS } from '../vfs/vfs.js';
import { LIMITS } from './contract/contract.js';

/**
 * Local answers: the part of the guest's filesystem whose answers are already decided, handed to
 * the supervisor so that it answers stat, open and access of those names itself (without a round
 * trip) and reports them afterwards. Only what needs no judgement is handed over: read-only host
 * grants shown at their own host path without filters, with nothing mounted below them, covered
 * by a read grant while the policy has no rules; the virtual symlinks of the controller's own tree;
 * the guest's identity. Names outside that part, hidden names and every doubtful case still come
 * to the controller.
 */
export interface Delegation {
  /** Supervisor options. */
  args: string[];
  /** Delegated grants by index (as reports name them): the host path and the policy's reason. */
  grants: { hostPath: string; reason: string }[];
}

/** System calls the supervisor may answer, with the handler each stands in for. */
const PATH_CALLS: Record<string, string> = {
  open: 'open(pii)i',
  openat: 'openat(ipii)i',
  stat: 'stat(pp)i',
  lstat: 'lstat(pp)i',
  newfstatat: 'newfstatat(ippi)i',
  access: 'access(pi)i',
  faccessat: 'faccessat(ipi)i',
  faccessat2: 'faccessat2(ipii)i',
  readlink: 'readlink(ppi)i',
  readlinkat: 'readlinkat(ippi)i',
  // fstat of a virtual descriptor the controller gave for a granted host directory
  fstat: 'fstat(ip)i',
};
/** Calls that name no path: answered from the host kernel as the controller would (randomness). */
const OTHER_CALLS: Record<string, string> = {
  getrandom: 'getrandom(pii)i',
  // close runs in the kernel either way; the controller drops the descriptor when the report comes
  close: 'close(i)i',
  // of a virtual directory descriptor, from the listing sent with its open ('L'); see listsLocally
  getdents64: 'getdents64(ipi)i',
};
/** What the supervisor keeps (the contract's limits). */
const {
  maxGrants: MAX_GRANTS,
  maxLinks: MAX_LINKS,
  maxDirs: MAX_DIRS,
  maxNames: MAX_NAMES,
  maxAbsent: MAX_ABSENT,
  maxHostDevs: MAX_HOST_DEVS,
} = LIMITS;
/** Linux's PATH_MAX, the supervisor's bound of a path (NUL included). */
const PATH_MAX = 4096;
/** Bytes of small files handed over for local opens (each goes as hex in the configuration). */
const LOCAL_FILE_BYTES = 64 * 1024;
const STDIO_CALLS = ['fstat(ip)i', 'newfstatat(ippi)i', 'lseek(iii)i', 'ioctl(iip)i'];
const ID_CALLS: Record<string, string> = {
  getuid: 'getuid()i',
  geteuid: 'geteuid()i',
  getgid: 'getgid()i',
  getegid: 'getegid()i',
  uname: 'uname(p)i',
};

/**
 * The supervisor's options for what it answers itself. `replaced`: signatures the caller gave
 * handlers of its own (their calls all come to the controller).
 */
export function delegate(
  vfs: VirtualFS,
  policy: Policy,
  replaced: ReadonlySet<string>,
  identity: Identity,
  platform: Platform,
  maxPath: number,
  anyTerminal: boolean,
  cwd: string,
  /**
   * For the relay of a sandboxed PyPy, which answers names and never hands the guest a host
   * descriptor: grants shown elsewhere than their host path, and filters of plain name rules, too.
   */
  relayed = false,
): Delegation | undefined {
  // Rules match virtual paths with globs: the supervisor would have to evaluate them. Not delegated.
  if (policy.listRules().length > 0) return undefined;
  // Paths up to the limit must fit the supervisor's buffers (its --max-path is at most PATH_MAX).
  if (maxPath > PATH_MAX) return undefined;
  const ours = (sig: string) => !replaced.has(sig);
  const calls = Object.entries(PATH_CALLS)
    .filter(([, sig]) => ours(sig))
    .map(([name]) => name);
  const idCalls = [...Object.entries(ID_CALLS), ...Object.entries(OTHER_CALLS)]
    .filter(([, sig]) => ours(sig))
    .map(([name]) => name);
  const args: string[] = [];
  const grants: Delegation['grants'] = [];
  /** Where the guest sees each grant (its host path but for a relayed guest's). */
  const grantedAt: string[] = [];
  const view = vfs.describeForSupervisor();
  if (calls.length) {
    const mountPoints = view.mountPoints();
    for (const { at, hostRoot, dev, layer, filtered, hides } of view.hostTrees()) {
      if (layer !== 'mount' || (filtered && !(relayed && hides)) || (at !== hostRoot && !relayed)) continue;
      if (Buffer.byteLength(at) + 1 >= maxPath) continue;
      if (mountPoints.some((m) => m.startsWith(at + '/'))) continue; // something mounted below it
      if (!view.ownParents(at)) continue;
      const decision = policy.decide('read', { vpath: at, source: 'host', hostPath: hostRoot, writable: false });
      const reason = policy.grantReason(hostRoot);
      if (!decision.allow || reason === undefined || grants.length >= MAX_GRANTS) continue;
      if (at === hostRoot) args.push('--grant', `${dev}:${at}`);
      else args.push('--grant-from', `${dev}:${at}`, hostRoot);
      for (const name of hides?.names ?? []) args.push('--hide-name', `${grants.length}:${name}`);
      for (const suffix of hides?.suffixes ?? []) args.push('--hide-suffix', `${grants.length}:${suffix}`);
      grants.push({ hostPath: hostRoot, reason });
      grantedAt.push(at);
    }
    const tree = view.ownTree({ dirs: MAX_DIRS, links: MAX_LINKS });
    const links: string[] = [];
    for (const [link, target] of tree.links) {
      if (!view.ownParents(link)) continue;
      args.push('--link', link, target);
      links.push(link);
    }
    const known = knownDirs(vfs, view, grantedAt, links, tree.dirs);
    for (const [dir, errno] of known.dirs) args.push('--dir', `${errno}:${dir}`);
    // Their stat answers, and the links' own (lstat): a tree built from the same recipe shows the
    // same ones every time (fixed times; see VfsOptions.time), so they hold for the next runs too.
    if (vfs.options.time !== undefined) {
      for (const p of [...known.dirs.map(([dir]) => dir), ...links]) {
        const st = view.ownStat(p);
        if (st && Buffer.byteLength(p) < maxPath)
          args.push('--stat', `${platform.encodeStat(st).toString('hex')}:${p}`);
      }
      // Its small files (made-up /proc files, `files`), opened as sealed copies as the controller would.
      let room = LOCAL_FILE_BYTES;
      for (const p of known.others) {
        const file = view.ownFile(p);
        if (!file || file.content.length > room || Buffer.byteLength(p) >= maxPath) continue;
        room -= file.content.length;
        args.push('--file', `${platform.encodeStat(file.stat).toString('hex')}:${file.content.toString('hex')}:${p}`);
      }
    }
    for (const name of known.others) args.push('--name', name);
    for (const name of vfs.absent().slice(0, MAX_ABSENT))
      if (Buffer.byteLength(name) < maxPath) args.push('--absent', name);
  }
  const local = [...(grants.length ? calls : []), ...idCalls];
  // The working directory, and whether a stat of it may be repeated while nothing else happens:
  // only for a tree that nothing but the guest's own (forwarded) calls can change.
  if (ours('getcwd(pi)i')) local.push('getcwd');
  if (ours('getcwd(pi)i') || ours('newfstatat(ippi)i')) args.push('--cwd', cwd);
  if (ours('newfstatat(ippi)i') && view.inMemoryOnly(cwd)) args.push('--cwd-stat', 'repeat');
  // The standard streams, when none is a terminal (a terminal's state lives in the controller).
  const stdio = !anyTerminal && STDIO_CALLS.every(ours);
  if (local.length === 0 && !stdio) return undefined;
  if (local.length) args.push('--local', local.join(','));
  if (stdio) args.push('--stdio-local');
  args.push('--owner', `${vfs.owner.uid}:${vfs.owner.gid}`, '--max-path', String(maxPath));
  args.push('--ids', [identity.uid, identity.euid, identity.gid, identity.egid].join(','));
  if (local.includes('uname')) args.push('--uname', utsname(platform, identity).toString('hex'));
  return { args, grants };
}

/** The signatures the supervisor may report answering itself under a delegation (none without one). */
export function reportableCalls(d: Delegation | undefined): ReadonlySet<string> {
  const out = new Set<string>();
  if (!d) return out;
  const byName: Record<string, string> = { ...PATH_CALLS, ...OTHER_CALLS, ...ID_CALLS, getcwd: 'getcwd(pi)i' };
  const k = d.args.indexOf('--local');
  for (const name of k >= 0 ? (d.args[k + 1] ?? '').split(',') : []) {
    if (Object.hasOwn(byName, name)) out.add(byName[name]!);
  }
  if (d.args.includes('--stdio-local')) for (const sig of STDIO_CALLS) out.add(sig);
  return out;
}

/** Whether directory opens send their listing along ('L') for the supervisor to answer getdents64. */
export function listsLocally(d: Delegation | undefined): boolean {
  const k = d ? d.args.indexOf('--local') : -1;
  return k >= 0 && (d!.args[k + 1] ?? '').split(',').includes('getdents64');
}

/**
 * Directories of the controller's tree on the way to delegated names, with every entry known to
 * the supervisor: a grant, a link, a directory leading further, or another name (a virtual file,
 * another mount) that it leaves to the controller. A name missing there gets its answer from the
 * supervisor: ENOENT, or EACCES where the directory only holds the way to mounts.
 */
function knownDirs(
  vfs: VirtualFS,
  view: SupervisorView,
  grants: string[],
  links: string[],
  treeDirs: string[],
): { dirs: [string, number][]; others: string[] } {
  const delegated = new Set([...grants, ...links]);
  const ways = new Set<string>(['/', ...treeDirs]);
  for (const p of delegated) {
    const parts = p.split('/').filter(Boolean);
    for (let k = 1; k < parts.length; k++) ways.add('/' + parts.slice(0, k).join('/'));
  }
  const dirs: [string, number][] = [];
  const others: string[] = [];
  for (const dir of ways) {
    const parts = dir.split('/').filter(Boolean);
    const rest = view.ownNames(dir).filter((child) => !delegated.has(child) && !ways.has(child));
    if (dirs.length >= MAX_DIRS || others.length + rest.length > MAX_NAMES) continue;
    dirs.push([dir, vfs.isContainer(parts) ? Errno.EACCES : Errno.ENOENT]);
    others.push(...rest);
  }
  return { dirs, others };
}

/**
 * Every host directory (or file) the tree shows, with the device number its stat results carry
 * (`--host-dev`): the supervisor describes real descriptors on those files the same way.
 */
export function hostDevices(vfs: VirtualFS): string[] {
  const out: string[] = ['--owner', `${vfs.owner.uid}:${vfs.owner.gid}`];
  for (const host of vfs.describeForSupervisor().hostTrees()) {
    if (out.length < 2 * MAX_HOST_DEVS) out.push('--host-dev', `${host.dev}:${host.hostRoot}`);
  }
  return out;
}
