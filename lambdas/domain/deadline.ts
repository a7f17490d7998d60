/** The outcome of a read that had a deadline: never rejects, so a slow store cannot fail the request. */
export type Settled<T> =
  | { ok: true; value: T; ms: number }
  | { ok: false; timedOut: boolean; error?: unknown; ms: number };

/**
 * Runs `work` against a deadline. On timeout the read is abandoned (its late answer is ignored), the
 * caller carries on without it.
 */
export function withDeadline<T>(work: () => Promise<T>, deadlineMs: number): Promise<Settled<T>> {
  const started = performance.now();
  const ms = () => Math.round((performance.now() - started) * 10) / 10;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, timedOut: true, ms: ms() }), deadlineMs);
    let promise: Promise<T>;
    try {
      promise = work();
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value, ms: ms() });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, timedOut: false, error, ms: ms() });
      },
    );
  });
}
