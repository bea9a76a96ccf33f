export interface ProgressThrottleOptions {
  /** Least time between two sends, in ms. */
  intervalMs: number;
  /** The output so far and its size; called when a send is due. */
  read(): { partialText: string; tokens: number };
  /** Records one progress event; at most one runs at a time. */
  send(progress: { partialText: string; tokens: number }): Promise<void>;
}

export interface ProgressThrottle {
  /** Says the output grew; never blocks and never throws. */
  offer(): void;
  /** Sends nothing more and waits for a send in flight. */
  stop(): Promise<void>;
}

/**
 * Progress at most every `intervalMs`, only when the output grew, and never in the way
 * of the stream: the first offer sends at once, later ones at the next free slot, and a
 * slow send delays the next one instead of queueing more.
 */
export function createProgressThrottle(options: ProgressThrottleOptions): ProgressThrottle {
  let lastAt = Number.NEGATIVE_INFINITY;
  let sentLength = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  function schedule(): void {
    if (stopped || timer || inFlight) return;
    const wait = lastAt + options.intervalMs - performance.now();
    if (wait <= 0) {
      sendNow();
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      sendNow();
    }, wait);
  }

  function sendNow(): void {
    const progress = options.read();
    if (progress.partialText.length <= sentLength) return;
    lastAt = performance.now();
    sentLength = progress.partialText.length;
    inFlight = options
      .send(progress)
      .catch(() => undefined)
      .finally(() => {
        inFlight = undefined;
        if (options.read().partialText.length > sentLength) schedule();
      });
  }

  return {
    offer: schedule,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
  };
}
