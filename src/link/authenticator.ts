import { createHash, timingSafeEqual } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as messages from '../common/heartbeat.messages.js';
import type { PeerClaim } from '../interfaces/heartbeat-options.interface.js';
import type { ResolvedIdentity } from '../options/resolved-options.js';

/** Why a claim was refused (for the log and the peer's `reject`), or undefined when it is admitted. */
export type AuthVerdict = string | undefined;

/**
 * Who may claim which nodeId, decided once per hello (see docs/SECURITY.md):
 * - `none`: anyone, any nodeId; stock `ClientTCP` peers are served;
 * - `shared`: whoever holds the one token, any nodeId;
 * - `tokens`, `callback`: a nodeId is bound to its own credential, so a peer can claim only its own;
 * - `certificate` (with any of them): the client certificate must name the nodeId (CN or SAN).
 */
export class Authenticator {
  constructor(private readonly identity: ResolvedIdentity) {}

  /** A peer that sends data without a hello (a stock ClientTCP) is served only when nothing is checked. */
  get admitsStockClients(): boolean {
    return this.identity.mode === 'none' && !this.identity.certificate;
  }

  /** Whether a peer's nodeId is bound to its credential (it cannot claim another). */
  get bound(): boolean {
    return this.identity.mode === 'tokens' || this.identity.mode === 'callback' || this.identity.certificate;
  }

  check(claim: PeerClaim): AuthVerdict | Promise<AuthVerdict> {
    if (this.identity.certificate) {
      const problem = certificateProblem(claim.certificate, claim.nodeId);
      if (problem) return problem;
    }
    switch (this.identity.mode) {
      case 'none':
        return undefined;
      case 'shared':
        return tokenMatches(this.identity.authToken!, claim.token) ? undefined : messages.authRejected(claim.token !== undefined);
      case 'tokens': {
        const own = Object.hasOwn(this.identity.authTokens!, claim.nodeId) ? this.identity.authTokens![claim.nodeId] : undefined;
        // Compared even for an unknown nodeId, so the time taken does not tell which nodeIds exist.
        const matches = tokenMatches(own ?? '', claim.token) && own !== undefined;
        return matches ? undefined : messages.identityRefused(claim.nodeId, claim.token !== undefined);
      }
      case 'callback':
        return this.ask(claim);
    }
  }

  /** `authenticate` may throw or reject: that refuses the claim, with what it said. */
  private async ask(claim: PeerClaim): Promise<AuthVerdict> {
    try {
      return (await this.identity.authenticate!(claim)) === true ? undefined : messages.identityRefused(claim.nodeId, claim.token !== undefined);
    } catch (error) {
      return messages.authenticateFailed(messages.safeErrorText(error));
    }
  }
}

/** Constant-time token check: digests make both sides equal length, so length leaks nothing either. */
export function tokenMatches(expected: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}

/** The names a client certificate vouches for: its subject CN(s) and its SAN DNS and URI names. */
export function certificateNames(cert: PeerCertificate): string[] {
  const names: string[] = [];
  const cn = cert.subject?.CN as string | string[] | undefined;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn);
  for (const entry of (cert.subjectaltname ?? '').split(', ')) {
    const m = /^(DNS|URI):(.+)$/.exec(entry);
    if (m) names.push(m[2]);
  }
  return names;
}

function certificateProblem(cert: PeerCertificate | undefined, nodeId: string): string | undefined {
  if (!cert || Object.keys(cert).length === 0) return messages.noClientCertificate();
  const names = certificateNames(cert);
  return names.includes(nodeId) ? undefined : messages.certificateNameMismatch(nodeId, names);
}
