import { execa } from 'execa';

/**
 * Starts the guest with nothing of the host's environment and its three standard streams as pipes:
 * stdin/stdout carry the protocol, stderr only the guest's own fatal messages.
 */
export function spawnGuest(file: string, args: string[], argv0: string | undefined, env: Record<string, string>) {
  return execa(file, args, {
    ...(argv0 !== undefined ? { argv0 } : {}),
    env,
    extendEnv: false,
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    encoding: 'buffer',
    reject: false,
    cleanup: true,
    stripFinalNewline: false,
  });
}

export type GuestProcess = ReturnType<typeof spawnGuest>;
