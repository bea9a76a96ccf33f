import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A secret's name as a step references it (`{"secret": "N8N_TOKEN"}`): also its file name. */
export const secretNamePattern = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** A secret a step needs that is not configured; the message names the secret, never a value. */
export class MissingSecret extends Error {}

/** Looks a secret up by name when a step runs. */
export type SecretSource = (name: string) => Promise<string>;

/**
 * Secrets from a directory holding one file per secret, named after it (Docker and
 * Kubernetes mount secrets this way). Read at every use, so a rotated file takes effect
 * on the next step; a trailing newline is dropped. Without a directory every secret is
 * missing.
 */
export function createSecretSource(dir: string | undefined): SecretSource {
  return async (name) => {
    if (!secretNamePattern.test(name)) throw new MissingSecret(`secret name ${JSON.stringify(name)} is not valid`);
    if (!dir) throw new MissingSecret(`secret ${name} is not configured: EXECUTOR_SECRETS_DIR is not set`);
    let value: string;
    try {
      value = await readFile(join(dir, name), 'utf8');
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'unreadable';
      throw new MissingSecret(
        `secret ${name} is not configured: no readable file ${name} in EXECUTOR_SECRETS_DIR (${code})`,
      );
    }
    return value.replace(/\r?\n$/, '');
  };
}
