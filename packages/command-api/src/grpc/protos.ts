import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/** `packages/command-api/proto`: the same relative place from `src/grpc` and `dist/grpc`. */
export const lightdomProtoDir = fileURLToPath(new URL('../../proto/', import.meta.url));

/** The `lightdom.v1` files, relative to {@link lightdomProtoDir}. */
export const lightdomProtoFiles = [
  'lightdom/v1/command.proto',
  'lightdom/v1/event.proto',
  'lightdom/v1/query.proto',
  'lightdom/v1/workflow.proto',
];

/**
 * How messages look in JavaScript, on the server and in clients built with these options:
 * camelCase fields (the domain's names), 64-bit integers as numbers (positions and
 * versions stay far below 2^53), unset scalars as their zero value, and proto3
 * `optional` fields absent unless sent.
 */
export const protoLoaderOptions: Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The `lightdom.v1` services plus the standard health service: what the server serves and reflects. */
export function loadGrpcPackage(): PackageDefinition {
  return loadSync([...lightdomProtoFiles, 'health/v1/health.proto'], {
    ...protoLoaderOptions,
    includeDirs: [lightdomProtoDir, resolve(dirname(healthProtoPath), '../..')],
  });
}
