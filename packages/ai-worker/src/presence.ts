import { ErrorCode, type NatsConnection, type NatsError, type Subscription } from 'nats';

/** What a worker says about a task it once claimed. */
export type ClaimantAnswer =
  /** It is running (or just claiming) the task. */
  | 'running'
  /** It is alive but not running the task: its attempt is lost. */
  | 'idle'
  /** Nobody answers on its subject: the worker is gone. */
  | 'gone'
  /** No answer in time (a busy or cut-off worker); ask again later. */
  | 'unknown';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The core NATS subject a worker answers on. Outside the event stream's subjects; the
 * worker id is base64url-encoded so any id makes one valid token.
 */
export const presenceSubject = (stream: string, workerId: string): string =>
  `_lightdom.ai-worker.${stream}.${Buffer.from(workerId).toString('base64url')}`;

/**
 * Answers "are you running task X?" for this worker. NATS drops the subscription with
 * the connection, so a dead worker's subject has no responders.
 */
export function answerPresence(
  nc: NatsConnection,
  subject: string,
  isRunning: (taskId: string) => boolean,
): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      msg.respond(encoder.encode(isRunning(decoder.decode(msg.data)) ? 'running' : 'idle'));
    },
  });
}

export async function askClaimant(
  nc: NatsConnection,
  subject: string,
  taskId: string,
  timeoutMs: number,
): Promise<ClaimantAnswer> {
  try {
    const reply = await nc.request(subject, encoder.encode(taskId), { timeout: timeoutMs });
    return decoder.decode(reply.data) === 'running' ? 'running' : 'idle';
  } catch (err) {
    const code = (err as NatsError).code;
    if (code === ErrorCode.NoResponders) return 'gone';
    if (code === ErrorCode.Timeout) return 'unknown';
    throw err;
  }
}
