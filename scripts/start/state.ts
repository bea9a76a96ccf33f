import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { stateFile } from './config.js';
import { say, UserError } from './output.js';
import { alive, exited, signal } from './servers.js';

/**
 * The processes this run started, kept in .data/start-state.json. If `npm start` itself is
 * killed hard (SIGKILL, a crashed terminal) its children live on; the next run finds them
 * here and stops them, instead of failing on busy ports or leaving servers nobody stops.
 */
export interface Tracked {
  name: string;
  pid: number;
  signal: NodeJS.Signals;
  /** Text in the command line, so a reused pid is never mistaken for ours. */
  match: string;
}

interface State {
  supervisor: number;
  processes: Tracked[];
}

export function saveState(processes: Tracked[]): void {
  const state: State = { supervisor: process.pid, processes };
  fs.writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/** Removes the file, unless it belongs to another run (one we refused to run beside). */
export function clearState(): void {
  const state = readState();
  if (state && state.supervisor !== process.pid) return;
  fs.rmSync(stateFile, { force: true });
}

/** Refuses to run twice at once, and stops what a hard-killed earlier run left behind. */
export async function cleanUpLeftovers(): Promise<void> {
  const state = readState();
  if (!state) return;
  if (state.supervisor !== process.pid && isOurs(state.supervisor, 'scripts/start')) {
    throw new UserError(
      `npm start is already running in this folder (pid ${state.supervisor}). Stop it first (Ctrl-C there, or kill ${state.supervisor}).`,
    );
  }
  // Services first: they hold connections to the servers.
  for (const p of state.processes.filter((p) => isOurs(p.pid, p.match))) {
    say(`stopping ${p.name} (pid ${p.pid}), left running by an earlier npm start that did not shut down`);
    signal(p.pid, p.signal);
    if (!(await exited(p.pid, 15_000))) signal(p.pid, 'SIGKILL');
  }
  fs.rmSync(stateFile, { force: true });
}

function readState(): State | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

/** Whether the pid is alive and its command line still contains `match`. */
function isOurs(pid: number, match: string): boolean {
  if (!alive(pid)) return false;
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)])
      .toString()
      .includes(match);
  } catch {
    return false;
  }
}
