import { z } from 'zod';

/** Environment pieces every service shares; each service composes its own schema. */
export const port = (fallback: number) =>
  z.coerce.number({ invalid_type_error: 'must be a port number' }).int().min(0).max(65535).default(fallback);

export const url = (protocols: string[], fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine(
      (v) =>
        v.split(',').every((u) => {
          try {
            return protocols.includes(new URL(u.trim()).protocol.replace(':', ''));
          } catch {
            return false;
          }
        }),
      { message: `must be a URL with scheme ${protocols.join(' or ')}` },
    );

export const positiveInt = (fallback: number) =>
  z.coerce.number({ invalid_type_error: 'must be a number' }).int().positive().default(fallback);

export const streamName = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .default(fallback);

export const subjectToken = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be one subject token (letters, digits, _ or -)')
    .default(fallback);

/** The variables every service that touches the log reads. */
export const natsConfig = {
  NATS_URL: url(['nats', 'tls', 'ws', 'wss'], 'nats://127.0.0.1:4222'),
  EVENTS_STREAM: streamName('EVENTS'),
  EVENTS_SUBJECT_PREFIX: subjectToken('events'),
};

export const hostConfig = {
  HOST: z.string().default('0.0.0.0'),
};
