/**
 * Demo plumbing: kill one live TCP connection from outside both processes, with `ss -K`
 * (iproute2; needs root and a kernel with INET_DIAG_DESTROY). The kernel aborts the socket we
 * name: its owner gets ECONNABORTED, the other end an RST.
 *
 * The filter names both ends of the connection (address and port of each), so it matches that
 * one socket whatever address the server listens on (127.0.0.1, or the cable namespace's host
 * address 10.213.x.1 as root). `ss -K` prints each socket it killed and exits 0 when it matched
 * none, so the caller is told what was killed and can fail loudly when that is nothing.
 */
import { execFile } from 'node:child_process';

export interface Endpoint {
  host: string;
  port: number;
}

/** `host:port` (IPv4, or IPv6 without brackets as Node prints it) → an endpoint; undefined if not one. */
export function parseEndpoint(address: string | undefined): Endpoint | undefined {
  if (!address) return undefined;
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  return at > 0 && Number.isInteger(port) && port > 0 && port < 65536 ? { host, port } : undefined;
}

const hostArg = (host: string) => (host.includes(':') ? `[${host}]` : host);

function ss(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ss', args, (error, stdout, stderr) => (error ? reject(new Error(`ss ${args.join(' ')}: ${stderr.trim() || error.message}`)) : resolve(stdout)));
  });
}

/** Why `ss -K` cannot kill sockets here, or undefined when it can. */
export async function socketKillUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (ss -K)';
  // Matches nothing (port 1 is never ours): only asks whether ss and its -K option work.
  return ss(['-K', '-t', 'dst', '127.0.0.1', 'dport', '=', ':1']).then(() => undefined, (error: Error) => `ss -K failed: ${error.message}`);
}

/**
 * Kills the TCP socket whose own end is `local` and whose other end is `remote`. Resolves with
 * the lines `ss` printed, one per socket killed: exactly one when the connection existed.
 */
export async function killConnection(local: Endpoint, remote: Endpoint): Promise<string[]> {
  const out = await ss(['-K', '-H', '-t', '-n',
    'src', hostArg(local.host), 'sport', '=', `:${local.port}`,
    'dst', hostArg(remote.host), 'dport', '=', `:${remote.port}`]);
  return out.split('\n').map((line) => line.trim()).filter(Boolean);
}

export const describeConnection = (local: Endpoint, remote: Endpoint) =>
  `${hostArg(local.host)}:${local.port} ↔ ${hostArg(remote.host)}:${remote.port}`;
