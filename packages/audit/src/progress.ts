/** Where the audit commands write: stdout for results, stderr for progress. */
export interface AuditIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Whether stderr is a terminal: one updating line instead of a line per 10k commits. */
  isTTY: boolean;
  /** Milliseconds clock. Default `performance.now`. */
  now?: () => number;
}

export interface ProgressOptions {
  /** Label at the start of each line, e.g. `verify`. */
  label: string;
  /** The last position the run will reach, when known. */
  head?: number | null;
  /** Milliseconds between redraws on a terminal. Default 500. */
  intervalMs?: number;
  /** Commits between lines when stderr is not a terminal. Default 10,000. */
  everyCommits?: number;
}

export interface Progress {
  update(commits: number, position: number | null): void;
  /** Clears the terminal line so the summary starts clean. */
  done(): void;
}

/** Progress on stderr for long runs; silent on short ones that end before the first tick. */
export function createProgress(io: AuditIo, opts: ProgressOptions): Progress {
  const now = io.now ?? (() => performance.now());
  const intervalMs = opts.intervalMs ?? 500;
  const everyCommits = opts.everyCommits ?? 10_000;
  const started = now();
  let lastDraw = started;
  let drawn = false;
  let nextLineAt = everyCommits;

  const text = (commits: number, position: number | null) => {
    const seconds = Math.max((now() - started) / 1000, 1e-3);
    const rate = Math.round(commits / seconds);
    const where = position === null ? '' : ` position ${position}${opts.head ? `/${opts.head}` : ''}`;
    const pct = position !== null && opts.head ? ` (${Math.min(100, Math.floor((position / opts.head) * 100))}%)` : '';
    return `${opts.label}: ${commits} commits, ${rate}/s,${where}${pct}`;
  };

  return {
    update(commits, position) {
      if (io.isTTY) {
        const t = now();
        if (t - lastDraw < intervalMs) return;
        lastDraw = t;
        drawn = true;
        io.stderr.write(`\r\x1b[2K${text(commits, position)}`);
      } else if (commits >= nextLineAt) {
        nextLineAt = commits + everyCommits;
        io.stderr.write(`${text(commits, position)}\n`);
      }
    },
    done() {
      if (drawn) io.stderr.write('\r\x1b[2K');
    },
  };
}
