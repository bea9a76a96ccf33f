// fastify's CommonJS export needs a named binding under NodeNext resolution.
import { fastify as Fastify, LogController } from 'fastify';

/** Turns off fastify's two per-request lines; services log one line of their own. */
export const quietRequestLogs = () => new LogController({ disableRequestLogging: true });

export { Fastify };
