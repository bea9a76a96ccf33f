import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '@lightdom/testkit';
import { parse, parseAllDocuments } from 'yaml';

export const deployDir = path.join(repoRoot, 'deploy');

/** A compose service as far as these tests read it. */
export interface ComposeService {
  image?: string;
  command?: string[];
  entrypoint?: string[];
  user?: string;
  restart?: string;
  read_only?: boolean;
  profiles?: string[];
  healthcheck?: { test?: string[] };
  environment?: Record<string, string>;
  secrets?: (string | { source: string; target?: string })[];
  ports?: string[];
  networks?: string[] | Record<string, unknown>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: string; memory?: string } } };
  cap_drop?: string[];
  security_opt?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean }>;
  secrets: Record<string, { file?: string }>;
  [key: string]: unknown;
}

/** deploy/compose.yaml with its YAML merge keys (`<<: *anchor`) resolved, as Compose reads it. */
export const readCompose = (): ComposeFile =>
  parse(readFileSync(path.join(deployDir, 'compose.yaml'), 'utf8'), { merge: true }) as ComposeFile;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Every document of every deploy/k8s/*.yaml, with the file it came from. */
export function readK8s(): { file: string; object: K8sObject }[] {
  const dir = path.join(deployDir, 'k8s');
  const out: { file: string; object: K8sObject }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'), { merge: true })) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const object = doc.toJS({ maxAliasCount: -1 }) as K8sObject | null;
      if (object) out.push({ file, object });
    }
  }
  return out;
}

/** Variable names whose values are credentials: they may only arrive as `<NAME>_FILE`. */
export const secretLike = /PASSWORD|TOKEN|SECRET|PRIVATE|KEY$|KEY_FILE$|ENCRYPTION/;
