/**
 * Topic matching as RabbitMQ does it: words split on `.`, `*` matches exactly one word,
 * `#` matches zero or more words. The empty string is zero words (so `*` does not match
 * the empty routing key and `#` does), while `a.` is the two words `a` and ``.
 */
export function topicMatches(pattern: string, routingKey: string): boolean {
  return matchWords(words(pattern), 0, words(routingKey), 0);
}

const words = (s: string) => (s === '' ? [] : s.split('.'));

function matchWords(p: string[], pi: number, k: string[], ki: number): boolean {
  while (pi < p.length) {
    const word = p[pi]!;
    if (word === '#') {
      // Collapse runs of # and try every split of the remaining key.
      if (pi === p.length - 1) return true;
      for (let skip = ki; skip <= k.length; skip++) {
        if (matchWords(p, pi + 1, k, skip)) return true;
      }
      return false;
    }
    if (ki >= k.length) return false;
    if (word !== '*' && word !== k[ki]) return false;
    pi++;
    ki++;
  }
  return ki === k.length;
}
