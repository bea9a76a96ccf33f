// fastify's CommonJS export needs a named binding under NodeNext resolution.
import { fastify as Fastify } from 'fastify';

export { Fastify };
