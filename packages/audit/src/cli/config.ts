import { parseConfig } from '@lightdom/runtime';
import { z } from 'zod';

const natsUrl = z
  .string()
  .default('nats://127.0.0.1:4222')
  .refine(
    (v) =>
      v.split(',').every((u) => {
        try {
          return ['nats:', 'tls:'].includes(new URL(u.trim()).protocol);
        } catch {
          return false;
        }
      }),
    { message: 'must be one or more comma-separated nats:// or tls:// URLs' },
  );

const token = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default(fallback);

/** What `lightdom` reads from the environment; every variable also accepts `<NAME>_FILE`. */
export const cliConfigSchema = z.object({
  NATS_URL: natsUrl,
  /** Name of the event stream. */
  EVENTS_STREAM: token('EVENTS'),
  /** First subject token of the event subjects. */
  EVENTS_SUBJECT_PREFIX: token('events'),
  /** Ethereum JSON-RPC endpoint holding the AuditAnchor contract (for --chain and prove). */
  CHAIN_RPC_URL: z
    .string()
    .url('must be an http(s) URL')
    .refine((v) => /^https?:$/.test(new URL(v).protocol), 'must be an http(s) URL')
    .optional(),
  AUDIT_ANCHOR_ADDRESS: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address')
    .optional(),
});

export type CliConfig = z.infer<typeof cliConfigSchema>;

/** Throws a ConfigError naming every bad variable. */
export const loadCliConfig = (env: NodeJS.ProcessEnv): CliConfig => parseConfig(cliConfigSchema, env);
