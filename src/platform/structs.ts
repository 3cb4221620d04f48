/**
 * The C structures the controller encodes or decodes in guest memory: each one's size and the
 * offset of every field it touches, once. Handlers and the kernel write through these tables
 * instead of literal offsets; test/platform-layouts.test.ts checks them against the C compiler.
 */

export interface StructLayout<F extends string> {
  readonly size: number;
  readonly offsets: Readonly<Record<F, number>>;
}

function layout<F extends string>(size: number, offsets: Record<F, number>): StructLayout<F> {
  return Object.freeze({ size, offsets: Object.freeze(offsets) });
}

type StatField =
  | 'st_dev'
  | 'st_ino'
  | 'st_nlink'
  | 'st_mode'
  | 'st_uid'
  | 'st_gid'
  | 'st_rdev'
  | 'st_size'
  | 'st_blksize'
  | 'st_blocks'
  | 'st_atim'
  | 'st_mtim'
  | 'st_ctim';

/** Every struct the controller reads or writes in a guest's memory. */
export interface Layouts {
  /** `struct stat` as glibc's stat()/fstat() and the kernel's newfstatat fill it. */
  readonly stat: StructLayout<StatField>;
  /** getdents64's `struct linux_dirent64` (glibc's `struct dirent64`); d_name is the rest of the record. */
  readonly dirent64: StructLayout<'d_ino' | 'd_off' | 'd_reclen' | 'd_type' | 'd_name'>;
  readonly sysinfo: StructLayout<
    | 'uptime'
    | 'loads'
    | 'totalram'
    | 'freeram'
    | 'sharedram'
    | 'bufferram'
    | 'totalswap'
    | 'freeswap'
    | 'procs'
    | 'totalhigh'
    | 'freehigh'
    | 'mem_unit'
  >;
  /** The kernel's `struct termios` (TCGETS/TCSETS), not glibc's larger one. */
  readonly termios: StructLayout<'c_iflag' | 'c_oflag' | 'c_cflag' | 'c_lflag' | 'c_line' | 'c_cc'>;
  readonly winsize: StructLayout<'ws_row' | 'ws_col' | 'ws_xpixel' | 'ws_ypixel'>;
  readonly iovec: StructLayout<'iov_base' | 'iov_len'>;
  readonly tms: StructLayout<'tms_utime' | 'tms_stime' | 'tms_cutime' | 'tms_cstime'>;
  readonly rusage: StructLayout<'ru_utime' | 'ru_stime' | 'ru_maxrss'>;
  readonly timeval: StructLayout<'tv_sec' | 'tv_usec'>;
  readonly timespec: StructLayout<'tv_sec' | 'tv_nsec'>;
  readonly utsname: StructLayout<'sysname' | 'nodename' | 'release' | 'version' | 'machine' | 'domainname'>;
  /** time_t, as time() stores it. */
  readonly time_t: StructLayout<never>;
}

/** The structs that are the same on every 64-bit Linux the project supports (all but `struct stat`). */
export const LP64_LINUX = {
  dirent64: layout(280, { d_ino: 0, d_off: 8, d_reclen: 16, d_type: 18, d_name: 19 }),
  sysinfo: layout(112, {
    uptime: 0,
    loads: 8,
    totalram: 32,
    freeram: 40,
    sharedram: 48,
    bufferram: 56,
    totalswap: 64,
    freeswap: 72,
    procs: 80,
    totalhigh: 88,
    freehigh: 96,
    mem_unit: 104,
  }),
  termios: layout(36, { c_iflag: 0, c_oflag: 4, c_cflag: 8, c_lflag: 12, c_line: 16, c_cc: 17 }),
  winsize: layout(8, { ws_row: 0, ws_col: 2, ws_xpixel: 4, ws_ypixel: 6 }),
  iovec: layout(16, { iov_base: 0, iov_len: 8 }),
  tms: layout(32, { tms_utime: 0, tms_stime: 8, tms_cutime: 16, tms_cstime: 24 }),
  rusage: layout(144, { ru_utime: 0, ru_stime: 16, ru_maxrss: 32 }),
  timeval: layout(16, { tv_sec: 0, tv_usec: 8 }),
  timespec: layout(16, { tv_sec: 0, tv_nsec: 8 }),
  utsname: layout(390, { sysname: 0, nodename: 65, release: 130, version: 195, machine: 260, domainname: 325 }),
  time_t: layout(8, {}),
} as const satisfies Omit<Layouts, 'stat'>;

/** x86-64: `struct stat` (= stat64) is 144 bytes, a 64-bit st_nlink before st_mode. */
export const X86_64_LAYOUTS: Layouts = {
  ...LP64_LINUX,
  stat: layout(144, {
    st_dev: 0,
    st_ino: 8,
    st_nlink: 16,
    st_mode: 24,
    st_uid: 28,
    st_gid: 32,
    st_rdev: 40,
    st_size: 48,
    st_blksize: 56,
    st_blocks: 64,
    st_atim: 72,
    st_mtim: 88,
    st_ctim: 104,
  }),
};

/** aarch64 (the generic layout): `struct stat` is 128 bytes, st_mode before a 32-bit st_nlink. */
export const AARCH64_LAYOUTS: Layouts = {
  ...LP64_LINUX,
  stat: layout(128, {
    st_dev: 0,
    st_ino: 8,
    st_mode: 16,
    st_nlink: 20,
    st_uid: 24,
    st_gid: 28,
    st_rdev: 32,
    st_size: 48,
    st_blksize: 56,
    st_blocks: 64,
    st_atim: 72,
    st_mtim: 88,
    st_ctim: 104,
  }),
};

/** The bytes a name field of `struct utsname` holds, its NUL included. */
export const UTSNAME_FIELD_BYTES = 65;
/** c_cc entries in the kernel's `struct termios`. */
export const NCCS = 19;
