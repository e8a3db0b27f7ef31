import { nextClusterState, STARTING, statusOf, STOPPED, type ClusterState } from '../../src/cluster/cluster-state.js';
import { describeRedis } from '../../src/cluster/redis-client.js';

/** The cluster service's one state, derived from what its parts report. */
const CONNECTED: ClusterState = { name: 'connected' };

it('starting stays starting until the lease is held or something fails; then connected or degraded with why', () => {
  expect(nextClusterState(STARTING, { registered: false })).toBe(STARTING);
  expect(nextClusterState(STARTING, { registered: true })).toEqual(CONNECTED);
  expect(nextClusterState(STARTING, { registered: false, writeFailure: 'ECONNREFUSED' })).toEqual({ name: 'degraded', why: 'ECONNREFUSED' });
  expect(nextClusterState(CONNECTED, { registered: true, readFailure: 'socket closed' })).toEqual({ name: 'degraded', why: 'socket closed' });
  expect(nextClusterState(CONNECTED, { registered: false })).toEqual({ name: 'degraded', why: 'not registered' });
  const degraded = { name: 'degraded', why: 'x' } as const;
  expect(nextClusterState(degraded, { registered: false, writeFailure: 'x' })).toBe(degraded); // same state: nothing to report
  expect(nextClusterState(STOPPED, { registered: true })).toBe(STOPPED);
  expect([STARTING, CONNECTED, degraded, STOPPED].map(statusOf)).toEqual(['degraded', 'connected', 'degraded', 'degraded']);
});

it('log lines describe the Redis without its password', () => {
  expect(describeRedis('redis://app:s3cret@redis.internal:6380/2')).toBe('redis://app@redis.internal:6380/2');
  expect(describeRedis('rediss://:s3cret@10.0.0.1')).toBe('rediss://10.0.0.1');
  expect(describeRedis({ host: 'h', port: 1, password: 's3cret' })).toBe('redis://h:1');
  expect(describeRedis({ host: 'h', tls: {} })).toBe('rediss://h:6379');
  expect(describeRedis({ sentinels: [{ host: 's1', port: 26379 }, { host: 's2' }], name: 'mymaster', sentinelPassword: 'x' })).toBe('master "mymaster" via sentinels s1:26379, s2:26379');
  expect(describeRedis('not a url')).toBe('the configured URL');
});
