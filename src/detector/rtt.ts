/** RFC 6298 smoothed round-trip time: the first sample, then SRTT = 7/8 SRTT + 1/8 sample. */
export function smoothRtt(previous: number | undefined, sampleMs: number): number {
  return previous === undefined ? sampleMs : previous + (sampleMs - previous) / 8;
}
