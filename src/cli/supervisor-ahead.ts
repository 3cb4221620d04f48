import { startSpareAhead } from '../controller/launch/spare.js';
import { supervisorPath } from '../supervisor/locate.js';

/**
 * interact's supervisor, started as soon as the command line says a supervised guest will run
 * (a stock interpreter, or a sandboxed PyPy behind its walls): it sets up its waiting child's
 * walls while the policy, the controller and the filesystem are still being prepared, and the run
 * takes it as a spare. The run's own arguments, limits and walls reach it as they would reach a
 * spare, and a supervisor started with other walls discards its waiting child; a run that ends
 * before its start (a usage error) leaves it to end with this process.
 */
export function startSupervisorAhead(sandboxed: boolean, walls: boolean): void {
  if (sandboxed && !walls) return; // no supervisor: the sandboxed binary runs alone
  let file: string;
  try {
    file = supervisorPath();
  } catch {
    return; // not built: the run says so when it starts
  }
  startSpareAhead(file, sandboxed ? 'protocol' : 'stock');
}
