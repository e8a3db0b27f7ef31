/** Throwaway self-signed certificates (openssl), valid for localhost and 127.0.0.1, for TLS tests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSigned { key: string; cert: string }

export function selfSigned(cn = 'localhost'): SelfSigned {
  const dir = mkdtempSync(join(tmpdir(), 'hb-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'pipe' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A throwaway certificate authority (openssl) that issues certificates for chosen names: mTLS tests. */
export interface Authority {
  /** The CA certificate: the `ca` of whoever verifies what it issued. */
  cert: string;
  /** A key and a certificate signed by the CA, with subject CN `cn` and these SAN entries (e.g. `DNS:localhost`, `URI:spiffe://x`). */
  issue(cn: string, san?: string[]): SelfSigned;
}

export function certificateAuthority(): Authority {
  const dir = mkdtempSync(join(tmpdir(), 'hb-ca-'));
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe', cwd: dir });
  run([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-days', '1', '-subj', '/CN=test-ca', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign',
  ]);
  const cert = readFileSync(join(dir, 'ca.pem'), 'utf8');
  let serial = 1;
  return {
    cert,
    issue(cn, san = ['DNS:localhost', 'IP:127.0.0.1']) {
      const n = serial++;
      run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', `leaf${n}.key`, '-out', `leaf${n}.csr`, '-subj', `/CN=${cn}`]);
      writeFileSync(join(dir, `leaf${n}.ext`), `subjectAltName=${san.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
      run(['x509', '-req', '-in', `leaf${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(n),
        '-days', '1', '-out', `leaf${n}.pem`, '-extfile', `leaf${n}.ext`]);
      return { key: readFileSync(join(dir, `leaf${n}.key`), 'utf8'), cert: readFileSync(join(dir, `leaf${n}.pem`), 'utf8') };
    },
  };
}
