/** A server the scenarios may need; the run checks each needed one before it starts. */
export type Server = 'nats' | 'postgres' | 'redis' | 'rabbitmq';

/** One measured figure, always beside a baseline measured in the same run. */
export interface Figure {
  scenario: string;
  metric: string;
  /** Unit of `value` and of `baseline.value`: `/s` rates, `ms` times, `MB` memory. */
  unit: string;
  value: number;
  baseline: { name: string; value: number };
  /** `value / baseline.value`. */
  ratio: number;
  notes?: string;
}

export interface FigureInput {
  metric: string;
  unit: string;
  value: number;
  baseline: string;
  baselineValue: number;
  notes?: string;
}

/** Cleanups run last-in first-out when a scenario ends, whether it passed or threw. */
export interface Scope {
  defer(cleanup: () => unknown): void;
  close(): Promise<void>;
}

export interface ScenarioContext {
  quick: boolean;
  /** The quick-mode value or the full-mode value. */
  pick<T>(quick: T, full: T): T;
  scope: Scope;
  /** A progress line on stdout, indented under the scenario. */
  log(message: string): void;
  figure(input: FigureInput): Figure;
}

/** One file in bench/scenarios. */
export interface Scenario {
  name: string;
  description: string;
  /** Default: nats, postgres and redis. */
  needs?: Server[];
  run(ctx: ScenarioContext): Promise<Figure[]>;
}
