/** A page of a keyset-paged list: `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Cursors are base64url of the last key of a page: opaque to clients, checked by the edges. */
export const encodeCursor = (key: string): string => Buffer.from(key).toString('base64url');
export const decodeCursor = (cursor: string): string => Buffer.from(cursor, 'base64url').toString();

type Row = Record<string, unknown>;

export const iso = (v: unknown): string | null =>
  v === null || v === undefined ? null : new Date(v as string).toISOString();

/** Builds `where` clauses with numbered parameters. */
export function whereBuilder() {
  const params: unknown[] = [];
  const where: string[] = [];
  return {
    params,
    add(sql: (p: string) => string, value: unknown) {
      params.push(value);
      where.push(sql(`$${params.length}`));
    },
    sql: () => (where.length ? `where ${where.join(' and ')}` : ''),
    limit(n: number) {
      params.push(n + 1);
      return `limit $${params.length}`;
    },
  };
}

/** The first `limit` rows as views, and a cursor when there were more. */
export function pageOf<T>(rows: Row[], limit: number, view: (r: Row) => T, key: (r: Row) => string): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  return { items: kept.map(view), nextCursor: rows.length > limit && last ? encodeCursor(key(last)) : null };
}
