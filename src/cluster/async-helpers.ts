/** Small promise helpers of the cluster parts. */

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); }),
  ]);
}

/** Resolves on `event` or after `ms`, whichever comes first. */
export function waitForEvent(emitter: { once(e: string, f: () => void): unknown; off(e: string, f: () => void): unknown }, event: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      emitter.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    emitter.once(event, done);
  });
}
