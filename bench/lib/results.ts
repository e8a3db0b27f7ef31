/**
 * The result types of the benchmarks, in one place: the benchmarks write them, report.ts reads
 * them, and neither imports the other for them (no import circle between a benchmark and its report).
 */
import type { MachineInfo, Summary, systemBetween } from './common.js';
import type { ProfileSummary } from './cpuprofile.js';

// B1: throughput (bench/b1-throughput.ts)
export type B1Impl = 'ours' | 'stock' | 'baseline';
export type B1Mode = 'c1' | 'c16' | 'c128' | 'events';
export interface B1Sample {
  round: number;
  /** Repetition of this mode within the round (1 in flight is measured several times per round). */
  rep?: number;
  impl: B1Impl;
  mode: B1Mode;
  rps: number;
  p50?: number;
  p99?: number;
  serverCpuUsPerReq: number;
  clientCpuUsPerReq: number;
  raw: Record<string, unknown>;
}

export interface B1Summary {
  impl: B1Impl;
  mode: B1Mode;
  rps: Summary;
  p50: Summary;
  p99: Summary;
  serverCpuUsPerReq: Summary;
  clientCpuUsPerReq: Summary;
  /** ours / stock per round and repetition (paired), then summarised. */
  ratioToStock?: Summary;
}

export interface B1Result {
  benchmark: 'b1';
  machine: MachineInfo;
  config: {
    rounds: number; repeats?: Record<B1Mode, number>; warmupMs: number; durationMs: number; payloadBytes: number; modes: B1Mode[]; impls: B1Impl[];
  };
  samples: B1Sample[];
  summary: B1Summary[];
  profiles?: Record<string, ProfileSummary>;
  durationMs: number;
}

// B2: heartbeat scale (bench/b2-heartbeat-scale.ts)
/** `baseline` and any other name given with --variants: the library at another checkout, run from there. */
export type Impl = 'ours' | 'ws' | 'raw' | 'baseline' | (string & {});

export interface B2Step {
  requested: number;
  peers: number;
  connectMs: number;
  window: {
    elapsedMs: number; cpuPct: number; userPct: number; systemPct: number; perSecondPct: number[]; eventLoopUtilization: number;
    loopDelayMs?: { p50: number; p99: number; max: number };
    eventsDuringWindow: Record<string, number>;
  };
  heapUsed: number;
  rss: number;
  heapPerPeerBytes: number;
  /** (heap at this step − heap at the previous step) / added peers: the cost of one more peer, without fixed overhead. */
  marginalHeapPerPeerBytes?: number;
  rssPerPeerBytes: number;
  timers: number;
  resources: Record<string, number>;
  lostSoFar: number;
  suspectSoFar: number;
  connections: number;
  /** Pings per peer per second during the window, sent by the server (answered by the clients) and by the clients. */
  serverPingsPerPeerSecond: number;
  clientPingsPerPeerSecond: number;
  /** The machine during the window: load averages at its ends, steal and busy time of all cores, % (/proc/stat). */
  system?: { loadAverageStart: number[]; loadAverageEnd: number[]; stealPct: number; busyPct: number };
}

export interface B2Run {
  impl: Impl;
  rep: number;
  fdLimit: number;
  maxPeers: number;
  baseline: { heapUsed: number; rss: number; timers: number; resources: Record<string, number> };
  steps: B2Step[];
  profile?: ProfileSummary;
}

export interface B2Result {
  benchmark: 'b2';
  machine: MachineInfo;
  config: { intervalMs: number; steps: number[]; reps: number; windowMs: number; settleMs: number; baseline?: string; variants?: Record<string, string> };
  runs: B2Run[];
  summary: Array<{
    impl: Impl; requested: number; peers: number; cpuPct: Summary; userPct: Summary; systemPct: Summary; heapPerPeerBytes: Summary;
    marginalHeapPerPeerBytes: Summary; rssPerPeerBytes: Summary;
    timers: Summary; baselineTimers: number; falseLost: number; suspect: number; perSecondPct: Summary;
  }>;
  targets: Record<string, unknown>;
  durationMs: number;
}

// B3: detection (bench/b3-detection.ts)
export type Fault = 'SIGSTOP' | 'SIGKILL' | 'graceful' | 'cable';
export interface Setting {
  name: 'defaults' | 'fast';
  intervalMs: number;
  missedBeats: number;
}

export interface B3Row {
  setting: Setting['name'];
  intervalMs: number;
  missedBeats: number;
  fault: Fault;
  expected: 'lost' | 'left';
  boundMs: number;
  trials: number;
  detected: number;
  latenciesMs: number[];
  latency: Summary;
  p90: number;
  reasons: Record<string, number>;
  /** Other events seen for these peers between fault and detection (e.g. suspect). */
  wrongEvents: number;
  /** Event-loop delay of the observer process (this one) while the faults were measured, ms. */
  observerLoopDelay: { p99: number; max: number };
  met: boolean;
  skipped?: string;
}

export interface B3Result {
  benchmark: 'b3';
  machine: MachineInfo;
  config: { trials: number; settings: Setting[] };
  rows: B3Row[];
  durationMs: number;
  notes: string[];
}

// B4: cluster presence on Redis (bench/b4-cluster.ts)
export interface LoadFigures {
  windowMs: number;
  /** Every command Redis executed (commandstats, including those run inside our Lua scripts), per second. */
  totalPerSecond: number;
  /** Commands sent by clients (EVALSHA/EVAL, XREAD, XRANGE), per second. */
  clientPerSecond: number;
  perReplicaTotal: number;
  perReplicaClient: number;
  byCommand: Record<string, number>;
}
export interface LatencyFigures { n: number; p50: number; p99: number; max: number }
export interface B4SizeRow {
  peersPerReplica: number;
  convergeMs: number;
  memoryBytes: number;
  bytesPerPeer: number;
  /** MEMORY USAGE of our keys right after the tables were in: the replicas' hashes and the stream. */
  keys: { hashesBytes: number; streamBytes: number; streamEntries: number };
  idle: LoadFigures;
  latencyIdle: LatencyFigures;
  churn: LoadFigures & { changesPerSecond: number };
  latencyChurn: LatencyFigures;
  bytesPerPeerAfterChurn: number;
}
export interface B4Result {
  machine: MachineInfo;
  durationMs: number;
  config: { replicas: number; leaseTtlMs: number; renewIntervalMs: number; quick: boolean; churnPerSecond: number; probes: number };
  sizes: B4SizeRow[];
  reap: { peers: number; boundMs: number; firstMs: number; lastMs: number; events: number };
  targets: { p50Ms: number; p99Ms: number; idleOpsPerReplica: number; bytesPerPeer: number };
}

/** Median and range over the replicas of one run. */
export interface Spread { median: number; min: number; max: number }
export interface NetFigures { in: number; out: number }

// B4 at scale: 10 replicas, 100,000 peers (bench/b4-scale.ts)
export interface B4ScaleResult {
  machine: MachineInfo;
  loadAverageAtEnd: number[];
  durationMs: number;
  config: { replicas: number; peersPerReplica: number; leaseTtlMs: number; renewIntervalMs: number; quick: boolean; churnPerSecondPerReplica: number; probes: number };
  convergeMs: number;
  redisMemoryBytes: number;
  redisBytesPerPeer: number;
  redisBytesPerPeerAfterChurn: number;
  keys: { hashesBytes: number; streamBytes: number; streamEntries: number };
  /** Heap of one replica's merged view, per peer of the view (every replica holds all of them). */
  replicaHeapBytesPerPeer: Spread;
  /** A replica joining the full cluster: process start to ready and to a full view; its snapshot's time in Redis; the longest PING meanwhile. */
  join: { readyMs: number; fullViewMs: number; snapshotMs: number; longestPingMs: number };
  idle: LoadFigures & { redisCpuFraction: number; replicaCpuFraction: Spread; netBytesPerSecond: NetFigures };
  latencyIdle: LatencyFigures;
  churn: LoadFigures & {
    changesPerSecond: number; redisCpuFraction: number; redisCpuUsPerChange: number; replicaCpuFraction: Spread;
    replicaCpuUsPerChangeAll: number; netBytesPerSecond: NetFigures; netBytesPerChange: NetFigures;
  };
  latencyChurn: LatencyFigures;
  reap: { peers: number; observers: number; boundMs: number; events: number[]; firstMs: number; lastMs: number };
}

// B5: reconnect storm (bench/b5-reconnect-storm.ts)
/** baseline: the library before a change (another checkout), alternated with ours. */
export type B5Impl = 'ours' | 'stock' | 'baseline';

export interface B5Restart {
  expected: number; complete: boolean; back: number;
  /** Peers back more than once (after a loss, or a new connection for stock). */
  repeats: number;
  /** `joined` for a peer already joined and not lost since: a peer reported twice. */
  duplicates: number; lostOrLeftAfterRestart: number; lossReasons: Record<string, number>;
  closeMs: number; listeningMs: number; allBackFromRestartMs: number | null; allBackFromListeningMs: number | null;
  firstBackFromListeningMs: number | null; perSecond: number[]; handshakesPerSecondPeak: number; handshakesPerSecondMean: number | null;
  cpuPeak100msPct: number; cpuMeanPct: number; cpuPer100ms: number[];
  eventLoopDelayMs: { max: number; p99: number; p50: number; mean: number };
  controlServerEvents: Record<string, number>;
  /** Sockets the server closed at accept during the storm (maxPendingHandshakes); absent before the limits. */
  refusedAtAccept?: number;
}

export interface B5Run {
  impl: B5Impl; rep: number; requested: number; peers: number; connectMs: number;
  restart: B5Restart;
  missing: number;
  /** Kernel: connection attempts dropped because the accept queue was full, during the restart (system-wide). */
  listenQueue: { overflows: number; drops: number };
  clients: Array<{ dials: number; closes: number; maxAttempt: number; errors: Record<string, number>; open: number; loopDelayMaxMs: number; loopDelayP99Ms: number }>;
  control?: { status: string | null; events: Record<string, number>; maxSilenceMs: number; rttMs: number | null };
}

export interface B5Result {
  benchmark: 'b5';
  machine: MachineInfo;
  config: {
    steps: number[]; reps: number; settleMs: number; reconnect: { initialDelayMs: number; maxDelayMs: number; factor: number; jitter: number };
    boundMs: number; suspectAfterMs: number; baseline?: string;
  };
  runs: B5Run[];
  summary: Array<{
    impl: B5Impl; requested: number; peers: number; allBackFromListeningMs: Summary; allBackFromRestartMs: Summary;
    cpuPeak100msPct: Summary; cpuMeanPct: Summary; eldMaxMs: Summary; eldP99Ms: Summary; handshakesPerSecondPeak: Summary;
    handshakesPerSecondMean: Summary; repeats: number; duplicates: number; missing: number; lostAfterJoining: number; complete: number; n: number;
    controlSuspect: number; controlLost: number; controlMaxSilenceMs: Summary; listenDrops: Summary;
    refusedAtAccept?: Summary;
  }>;
  durationMs: number;
}

// B6: detection quality of service (bench/b6-detection-qos.ts)
export interface B6Detection {
  /** ms from the fault to the lost verdict, per link. */
  samples: number[];
  summary: Summary;
  /** Links with no lost verdict within the wait. */
  missed: number;
  /** For up to 5 of those: the observer's last verdicts on the link, ms relative to the fault. */
  lastVerdicts?: string[];
}

export interface B6DetectorRow {
  detector: string;
  family: 'fixed' | 'adaptive' | 'ws' | 'socket.io';
  intervalMs: number;
  boundMs?: number;
  links: number;
  /** Link-hours connected during the fault-free window. */
  linkHours: number;
  /** Suspect verdicts on live peers during the window (ours only: ws and Socket.IO have no suspect state). */
  suspicions: number;
  /** Lost verdicts on live peers during the window. */
  falseLosses: number;
  lostReasons: Record<string, number>;
  hang: B6Detection;
  cable: B6Detection;
}

export interface B6ProfileResult {
  profile: string;
  /** When this profile's run started (ISO); absent in results written before it was recorded. */
  startedAt?: string;
  description: string;
  windowMs: number;
  procs: number;
  linksPerDetectorPerProc: number;
  loadAverage: { start: number[]; window: number[]; end: number[] };
  observerLoopDelayMs: { p99: number; max: number };
  proxyLoopDelayMs: { p99: number; max: number };
  pausesMs?: Summary;
  pauseCount: number;
  rows: B6DetectorRow[];
}

export interface B6Result {
  benchmark: 'b6';
  machine: MachineInfo;
  config: { windowMs: number; procs: number; links: number; profiles: string[]; detectors: unknown[] };
  profiles: B6ProfileResult[];
  durationMs: number;
}

// B8: rolling restart under load (bench/b8-rolling-restart.ts)
export type B8Impl = 'ours' | 'stock';

export interface B8Restart {
  /** Which instance was replaced, and by which. */
  old: string; replacement: string;
  /** The replacement's start until it listened (added to the Service then). */
  bootMs: number;
  /** SIGTERM until the old process exited. */
  exitMs: number;
  /** Requests sent before SIGTERM and not answered yet at SIGTERM, on any instance. */
  inFlightAtSigterm: number;
  /** Requests answered by the old instance before it exited (its own count). */
  servedByOld: number;
}

export interface B8Run {
  impl: B8Impl; rep: number;
  sent: number; ok: number; failed: number; unanswered: number;
  /** Failed requests by error text (the first 80 characters). */
  errors: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  /** From each SIGTERM until 1 s after that process exited. */
  duringRestartsMs: { n: number; p50: number; p99: number; max: number };
  achievedRate: number;
  restarts: B8Restart[];
  /** Connections the Service opened to each instance. */
  connections: Record<string, number>;
}

export interface B8Result {
  benchmark: 'b8';
  machine: MachineInfo;
  config: { reps: number; rate: number; callers: number; workMs: number; warmupMs: number; settleMs: number; waitForReadyMs: number; impls: B8Impl[] };
  runs: B8Run[];
  summary: Array<{
    impl: B8Impl; n: number; sent: number; failed: number; unanswered: number; failedPerRun: Summary; errors: Record<string, number>;
    p99Ms: Summary; maxMs: Summary; restartP99Ms: Summary; restartMaxMs: Summary; exitMs: Summary; inFlightAtSigterm: Summary;
  }>;
  durationMs: number;
}

// B7: hostile load (bench/b7-hostile-load.ts)
/** before / after the limits, or the name of an extra library run alongside (a what-if). */
export type B7Impl = 'before' | 'after' | (string & {});

export interface B7System { loadAverageStart: number[]; loadAverageEnd: number[]; stealPct: number; busyPct: number }

/** The server's own figures between two marks (bench/b7/hostile-server.ts). */
export interface B7Phase {
  name: string; elapsedMs: number; cpuPct: number; cpuMs: number; joins: number; departures: number; accepted: number;
  /** Sockets the server destroyed in its own connection listener (over maxPendingHandshakes, or after close()). */
  refusedAtAccept: number;
  joinsPerSecond: number; cpuUsPerJoin: number | null;
  loopDelayMs: { p50: number; p99: number; max: number; n: number };
  end: { connections: number; pendingHandshakes: number | null; accepted: number; refusedAtAccept: number; tableSize: number; retained: number; present: number };
}

export interface B7Honest {
  status: string | null; joinedMs: number | null; events: Record<string, number>; maxSilenceMs: number;
  echo: { n: number; p50: number; p99: number; max: number; failed: number; errors: Record<string, number> };
}

export interface B7BigFrames {
  impl: B7Impl; rep: number; variant: string; announce: number; sockets: number; holdMs: number; connectMs: number;
  heapBase: number; heapPeak: number; heapAfter: number; rssBase: number; rssPeak: number;
  heapGrowthPerSocketBytes: number; rssGrowthPerSocketBytes: number;
  serverAtPeak: { connections: number; pendingHandshakes: number | null; accepted: number };
  /** The server's sockets when `afterMs` had passed (past the 10 s handshake deadline): each should be gone. */
  serverAfter: { afterMs: number; connections: number; pendingHandshakes: number | null };
  attackersAtPeak: { open: number; connected: number; closedByServer: number; closedWithin500Ms: number; bytesSent: number; errors: Record<string, number> };
  attackersAfter: { open: number; closedByServer: number; lifetimeMs: { n: number; min: number; p50: number; max: number } | null };
  serverPhase: B7Phase;
  honest: B7Honest;
  system: B7System;
}

export interface B7Sample {
  t: number; heapUsed: number; rss: number; cpuPct: number; eldMaxMs: number; tableSize: number; retained: number;
  connections: number; pendingHandshakes: number | null; joined: number; accepted: number; refusedAtAccept: number;
}

export interface B7Churn {
  /** perSecond: the attacker's fixed rate, or null for as fast as it can. */
  impl: B7Impl; rep: number; perSecond: number | null;
  config: { joinMs: number; expiryMs: number; tailMs: number; concurrency: number };
  heap: { base: number; afterJoin: number; afterExpiry: number; afterTail: number };
  gcMs: { afterJoin: number; afterExpiry: number; afterTail: number };
  retained: { afterJoin: number; afterExpiry: number; afterTail: number };
  tableSize: { afterJoin: number; afterExpiry: number; afterTail: number };
  maxRetained: number;
  phases: { join: B7Phase; expiry: B7Phase; tail: B7Phase };
  attackers: { helloSent: number; welcomed: number; errors: Record<string, number>; perSecond: number[]; loopDelayMaxMs: number };
  honest: { churn: B7Honest; tail: B7Honest };
  series: B7Sample[];
  system: B7System;
}

export interface B7Slowloris {
  impl: B7Impl; rep: number;
  config: { count: number; durationMs: number; lateAtMs: number };
  firstWave: { connectMs: number; open: number };
  heapBase: number; heaps: Array<{ t: number; heapUsed: number }>; heapEnd: number;
  maxConnections: number; maxPendingHandshakes: number | null; maxAttackerOpen: number;
  /** Every second: the server's sockets and refusals, the attacker's open sockets. */
  polls: Array<{ t: number; connections: number; pendingHandshakes: number | null; refusedAtAccept: number; accepted: number; attackerOpen: number }>;
  attackers: {
    dials: number; connected: number; closedWithin500Ms: number; closedByServer: number;
    lifetimeMs: { n: number; min: number; p50: number; max: number } | null; errors: Record<string, number>; loopDelayMaxMs: number;
  };
  serverPhase: B7Phase;
  honest: B7Honest;
  lateJoiner: { joinedMs: number | null; startedAtMs: number; status: string | null; events: Record<string, number> | null };
  system: B7System;
}

export interface B7Result {
  benchmark: 'b7';
  machine: MachineInfo;
  config: {
    before: string; extra?: Array<{ name: string; root: string }>; reps: number; only: string[];
    bigFrames: { count: number; holdMs: number; afterMs: number };
    churn: { joinMs: number; expiryMs: number; tailMs: number; concurrency: number };
    churnRates: Array<number | null>;
    slowloris: { count: number; durationMs: number; lateAtMs: number };
  };
  bigFrames: B7BigFrames[];
  churn: B7Churn[];
  slowloris: B7Slowloris[];
  system?: B7System;
  durationMs: number;
}

// B9: the presence page at 1,000 peers (bench/b9-dashboard-load.ts)
export interface B9Config {
  reps: number;
  peers: number;
  changesPerSecond: number;
  pages: number;
  /** Pages per browser context: a browser holds at most 6 HTTP/1.1 connections to a host, and each open page holds one for its stream. */
  pagesPerContext: number;
  frameWindowMs: number;
  cpuWindowMs: number;
}

/** The machine over a window (bench/lib/common.ts systemBetween). */
export type B9System = ReturnType<typeof systemBetween>;

export interface B9Run {
  rep: number;
  date: string;
  /** Time for the 20 pages to open and each to show the 1,000 peers (the browser's work; not measured as the server's). */
  pagesOpenedInMs: number;
  /** Rows in the document of the first page once it shows all peers (only those on screen are drawn). */
  rowsInDocument: number;
  frameMs: { median: number; p99: number; max: number; frames: number };
  serverCpuPercent: { withoutPagesBefore: number; withPages: number; withoutPagesAfter: number; added: number };
  /** The machine during each CPU window (all cores: load average at both ends, steal and busy %). */
  windows: { withoutPagesBefore: B9System; withPages: B9System; withoutPagesAfter: B9System };
  /** The machine over the whole repetition. */
  system: B9System;
  pageErrors: string[];
}

export interface B9Result {
  benchmark: 'b9';
  method: string[];
  machine: MachineInfo & { chromium: string };
  config: B9Config;
  runs: B9Run[];
  summary: {
    n: number;
    frameMedianMs: Summary;
    frameP99Ms: Summary;
    frameMaxMs: Summary;
    serverCpuWithoutPagesPercent: Summary;
    serverCpuWithPagesPercent: Summary;
    serverCpuAddedPercent: Summary;
    pagesOpenedInMs: Summary;
    loadAverage1m: Summary;
    stealPct: Summary;
  };
  earlierRuns: string;
  durationMs: number;
}
