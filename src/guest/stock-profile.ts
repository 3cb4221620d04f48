/**
 * What a stock interpreter needs from the host, read-only: its binary, its standard library, the
 * shared libraries it and its extension modules load, and the loader's cache. Computed once per
 * interpreter (cached on disk by binary identity), by asking the trusted host interpreter and ldd.
 */
export interface StockProfile {
  /** Real path of the interpreter binary (what the supervisor executes). */
  binary: string;
  /** The path as named (e.g. /usr/bin/pypy3): the guest's argv[0]. */
  argv0: string;
  family: 'pypy' | 'cpython';
  /** Host paths (files and directories) granted read-only, shown at the same virtual paths. */
  grants: string[];
  /** Host symlinks on the way to the grants, replicated in the virtual tree: [path, link text]. */
  symlinks: [string, string][];
  /**
   * Entries of the interpreter's module search path that are not granted (site and dist packages,
   * a zipped standard library that does not exist): shown as missing, the interpreter only probes them.
   */
  missing?: string[];
}
