/**
 * An AMQP exception: `channel` ones close the channel (soft errors such as 404, 406),
 * `connection` ones close the connection (hard errors such as 530, 540). The text follows
 * RabbitMQ's `CODE_NAME - detail` form so clients log the same lines.
 */
export class AmqpError extends Error {
  /** The reply text: a short string, so cut as RabbitMQ cuts it (252 bytes and `...`). */
  readonly text: string;
  constructor(
    readonly code: number,
    text: string,
    readonly scope: 'channel' | 'connection',
  ) {
    super(text);
    this.name = 'AmqpError';
    const bytes = Buffer.from(text, 'utf8');
    this.text = bytes.length > 255 ? `${bytes.subarray(0, 252).toString('utf8')}...` : text;
  }
}

export const notFound = (what: string) => new AmqpError(404, `NOT_FOUND - ${what}`, 'channel');
export const preconditionFailed = (what: string) => new AmqpError(406, `PRECONDITION_FAILED - ${what}`, 'channel');
export const accessRefused = (what: string) => new AmqpError(403, `ACCESS_REFUSED - ${what}`, 'channel');
export const resourceLocked = (what: string) => new AmqpError(405, `RESOURCE_LOCKED - ${what}`, 'channel');
export const notAllowed = (what: string) => new AmqpError(530, `NOT_ALLOWED - ${what}`, 'connection');
export const notImplemented = (what: string) => new AmqpError(540, `NOT_IMPLEMENTED - ${what}`, 'connection');
export const commandInvalid = (what: string) => new AmqpError(503, `COMMAND_INVALID - ${what}`, 'connection');
export const channelError = (what: string) => new AmqpError(504, `CHANNEL_ERROR - ${what}`, 'connection');
export const frameError = (what: string) => new AmqpError(501, `FRAME_ERROR - ${what}`, 'connection');
export const unexpectedFrame = (what: string) => new AmqpError(505, `UNEXPECTED_FRAME - ${what}`, 'connection');
export const syntaxError = (what: string) => new AmqpError(502, `SYNTAX_ERROR - ${what}`, 'connection');
export const resourceError = (what: string) => new AmqpError(506, `RESOURCE_ERROR - ${what}`, 'connection');
export const internalError = (what: string) => new AmqpError(541, `INTERNAL_ERROR - ${what}`, 'connection');
