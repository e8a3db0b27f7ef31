/**
 * Raw ping/pong round trips, for the `heartbeat.rtt` histogram. `PeerInfo.rttMs` is smoothed;
 * a histogram wants every sample. Keyed by the links' reporter (the application's peer table),
 * so two applications in one process do not record each other's samples. Nothing here loads
 * OpenTelemetry: links call it whether or not metrics are on.
 */
const observers = new WeakMap<object, (rttMs: number) => void>();

export function observeRttSamples(reporter: object, observer: (rttMs: number) => void): () => void {
  observers.set(reporter, observer);
  return () => {
    if (observers.get(reporter) === observer) observers.delete(reporter);
  };
}

/** Called by a link for each pong it receives. */
export function rttSampled(reporter: object, rttMs: number): void {
  observers.get(reporter)?.(rttMs);
}
