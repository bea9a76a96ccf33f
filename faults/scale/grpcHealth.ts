import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';

type HealthClient = {
  check(
    req: { service: string },
    opts: { deadline: Date },
    cb: (err: Error | null, res?: { status: string }) => void,
  ): void;
  close(): void;
};

/** `grpc.health.v1.Health/Check` at `address` (through nginx's grpc_pass): the status, or the error. */
export async function grpcHealth(address: string): Promise<string> {
  const def = loadSync(protoPath, { enums: String, defaults: true });
  const pkg = loadPackageDefinition(def) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: unknown) => HealthClient } } };
  };
  const client = new pkg.grpc.health.v1.Health(address, credentials.createInsecure());
  try {
    return await new Promise((resolve) =>
      client.check({ service: '' }, { deadline: new Date(Date.now() + 3000) }, (err, res) =>
        resolve(err ? `error: ${err.message}` : (res?.status ?? 'no status')),
      ),
    );
  } finally {
    client.close();
  }
}
