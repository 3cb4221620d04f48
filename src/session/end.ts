import { SandboxError, type RunResult } from '../controller/result.js';
import type { SessionEnd } from './types.js';

/** How a session ended, from its run's result or error and the reason the session gave itself. */
export function endOfRun(
  run: RunResult | undefined,
  err: unknown,
  ending: { reason: SessionEnd['reason']; message: string } | undefined,
  stray: string,
): SessionEnd {
  const result = run ?? (err instanceof SandboxError ? err.result : undefined);
  const base = {
    reason: 'error' as SessionEnd['reason'],
    message: '',
    limit: result?.limit ?? null,
    exitCode: result?.exitCode ?? null,
    signal: result?.signal ?? null,
    run: result,
  };
  const said = stray.trim() ? `; the guest said: ${stray.trim().slice(-2000)}` : '';
  if (ending) return { ...base, reason: ending.reason, message: ending.message };
  if (err !== undefined) {
    const kind = err instanceof SandboxError ? err.kind : undefined;
    const reason = kind === 'protocol' ? 'protocol' : kind === 'aborted' ? 'aborted' : 'error';
    return { ...base, reason, message: err instanceof Error ? err.message : String(err) };
  }
  const r = run!;
  switch (r.outcome) {
    case 'exited':
      return { ...base, reason: 'exited', message: `the interpreter exited with status ${r.exitCode}${said}` };
    case 'timeout':
      return { ...base, reason: 'limit', message: `the session's time limit (${r.limit?.value} ms) was reached` };
    case 'limit':
      return { ...base, reason: 'limit', message: `the ${r.limit?.name} limit (${r.limit?.value}) was reached` };
    case 'signaled':
      return {
        ...base,
        reason: 'crashed',
        message: `the interpreter died of ${r.signal} (${r.signalDescription})${said}`,
      };
    default:
      return { ...base, reason: 'error', message: `the interpreter was ended${said}` };
  }
}
