import type { EventRecord } from './envelope.js';

/** Turns `data` of one event type from schemaVersion `from` into `from + 1`. */
export interface Upcaster {
  type: string;
  from: number;
  upcast(data: unknown): unknown;
}

export type UpcasterChain = (event: EventRecord) => EventRecord;

/** Builds a function that brings an event from any stored version to the current one. */
export function createUpcasterChain(upcasters: Upcaster[]): UpcasterChain {
  const byKey = new Map(upcasters.map((u) => [`${u.type}@${u.from}`, u]));
  return (event) => {
    let current = event;
    for (;;) {
      const u = byKey.get(`${current.type}@${current.schemaVersion}`);
      if (!u) return current;
      current = { ...current, schemaVersion: u.from + 1, data: u.upcast(current.data) };
    }
  };
}
