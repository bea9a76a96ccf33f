/** Query parameters whose values are credentials (compared lower-case). */
const secretParams: ReadonlySet<string> = new Set([
  'token',
  'access_token',
  'id_token',
  'refresh_token',
  'api_key',
  'apikey',
  'password',
  'secret',
]);

const nameOf = (part: string): string => {
  const raw = part.split('=', 1)[0] ?? '';
  try {
    return decodeURIComponent(raw.replaceAll('+', ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
};

/**
 * A URL as it may be logged: credentials in the query (`?token=…`) replaced by
 * `[redacted]`, and the whole cut to `maxLength` characters so a huge URL makes a short line.
 * @example redactUrl('/ws?token=s3cret&x=1') // '/ws?token=[redacted]&x=1'
 */
export function redactUrl(url: string, maxLength = 512): string {
  const q = url.indexOf('?');
  let out = url;
  if (q >= 0) {
    const parts = url
      .slice(q + 1)
      .split('&')
      .map((part) => (secretParams.has(nameOf(part)) ? `${part.split('=', 1)[0]}=[redacted]` : part));
    out = `${url.slice(0, q)}?${parts.join('&')}`;
  }
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
}
