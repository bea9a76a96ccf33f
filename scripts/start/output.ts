/** Console output of `npm start`: its own messages, prefixed service lines, the summary table. */

/** A problem the user can fix; printed as a plain message, never with a stack trace. */
export class UserError extends Error {}

// biome-ignore lint/suspicious/noUndeclaredEnvVars: npm start is no turbo task, so turbo caching does not apply
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = paint(1);
export const dim = paint(2);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);
const palette = [paint(36), paint(35), paint(34), paint(32), paint(33)];

/** Width of the name column, so that prefixed lines of every process line up. */
const nameWidth = 11;

/** A message from `npm start` itself. */
export function say(message: string): void {
  process.stdout.write(prefixLines(bold('start'.padEnd(nameWidth)), message));
}

export function warn(message: string): void {
  process.stderr.write(prefixLines(yellow('start'.padEnd(nameWidth)), message));
}

function prefixLines(prefix: string, text: string): string {
  return text
    .split('\n')
    .map((line) => `${prefix} ${dim('│')} ${line}\n`)
    .join('');
}

const prefixes = new Map<string, string>();

/** Prints one output line of a service, prefixed with its name in a colour of its own. */
export function serviceLine(name: string, line: string, raw: boolean): string {
  let prefix = prefixes.get(name);
  if (!prefix) {
    prefix = palette[prefixes.size % palette.length]!(name.padEnd(nameWidth));
    prefixes.set(name, prefix);
  }
  const text = raw ? line : prettyPino(line);
  process.stdout.write(prefixLines(prefix, text));
  return text;
}

const levels: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields already shown by the prefix or the short form, or noise in a terminal. */
const hidden = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'name', 'v', 'err']);

/**
 * Shortens a pino JSON line to `12:00:01.123 INFO message {other fields}`, with an error's
 * stack on the lines below. Anything that is not a pino line is returned unchanged.
 */
export function prettyPino(line: string): string {
  if (!line.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry.level !== 'number') return line;
  const level = levels[entry.level] ?? String(entry.level);
  const rest = Object.fromEntries(Object.entries(entry).filter(([key]) => !hidden.has(key)));
  const restText = Object.keys(rest).length > 0 ? ` ${dim(JSON.stringify(rest))}` : '';
  const paintLevel = entry.level >= 50 ? red : entry.level >= 40 ? yellow : dim;
  const head = `${dim(clock(entry.time))} ${paintLevel(level.padEnd(5))} ${String(entry.msg ?? '')}${restText}`;
  return head + errorText(entry.err);
}

function clock(time: unknown): string {
  const date = typeof time === 'number' || typeof time === 'string' ? new Date(time) : new Date();
  return Number.isNaN(date.getTime()) ? String(time) : date.toISOString().slice(11, 23);
}

function errorText(err: unknown): string {
  if (!err || typeof err !== 'object') return '';
  const { stack, message } = err as { stack?: unknown; message?: unknown };
  const text = typeof stack === 'string' ? stack : typeof message === 'string' ? message : JSON.stringify(err);
  return `\n${text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}`;
}

/** Prints rows as aligned columns, the first row as the heading. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => visibleLength(row[col] ?? ''))));
  return rows
    .map((row, i) => {
      const cells = row.map((cell, col) => cell + ' '.repeat(widths[col]! - visibleLength(cell)));
      const line = `  ${cells.join('   ')}`.trimEnd();
      return i === 0 ? bold(line) : line;
    })
    .join('\n');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips the colour codes we add
const visibleLength = (text: string) => text.replace(/\x1b\[\d+m/g, '').length;
