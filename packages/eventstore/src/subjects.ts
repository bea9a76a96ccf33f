/** Subject of an aggregate's commits: `<prefix>.<aggregateType>.<aggregateId>`. */
export const aggregateSubject = (prefix: string, aggregateType: string, aggregateId: string) =>
  `${prefix}.${aggregateType}.${aggregateId}`;

/** All commits of one aggregate type, or every commit. */
export const typeSubject = (prefix: string, aggregateType?: string) =>
  aggregateType ? `${prefix}.${aggregateType}.*` : `${prefix}.>`;

export function parseSubject(prefix: string, subject: string): { aggregateType: string; aggregateId: string } {
  const rest = subject.slice(prefix.length + 1);
  const dot = rest.indexOf('.');
  return { aggregateType: rest.slice(0, dot), aggregateId: rest.slice(dot + 1) };
}
