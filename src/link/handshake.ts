import * as messages from '../common/heartbeat.messages.js';
import { detectionRule, type DetectionRule } from '../detector/failure-detector.js';
import type { PeerClaim } from '../interfaces/heartbeat-options.interface.js';
import { identityFrameProblem, PROTOCOL_VERSION, type HelloFrame, type RejectFrame, type WelcomeFrame } from '../protocol/frames.js';
import type { AuthVerdict, Authenticator } from './authenticator.js';
import type { Admission, LinkContext } from './link-context.js';

/**
 * The handshake's decisions, one per frame, as values: the link applies them. A hello is checked
 * for its form, then who may claim that nodeId (maybe asynchronously), then whether the table
 * admits the incarnation; a welcome for its form, the nodeId we expect, a usable ping floor and
 * the table's admission.
 */
export type HandshakeStep =
  /** Open the link as this peer. */
  | { kind: 'open'; peerId: string; metadata: Record<string, string>; incarnation: string; drains: boolean; rule: DetectionRule }
  /** Inbound: answer with a `reject` and close. */
  | { kind: 'refuse'; reason: RejectFrame['reason']; why: string }
  /** Outbound: we will not take this welcome (the client reports it once). */
  | { kind: 'decline'; cause: Admission['reason'] | 'identity-mismatch'; why: string }
  /** Malformed: end at once. */
  | { kind: 'fail'; why: string };

/** Inbound: what to do with a hello. A promise when the authenticator asks your `authenticate`. */
export function answerHello(
  frame: HelloFrame, ctx: Pick<LinkContext, 'reporter' | 'rule'>, authenticator: Authenticator | undefined, claimExtras: Pick<PeerClaim, 'certificate' | 'remoteAddress'>,
): HandshakeStep | Promise<HandshakeStep> {
  const problem = helloProblem(frame);
  if (problem) return { kind: 'refuse', reason: 'protocol-error', why: problem };
  const claim: PeerClaim = { nodeId: frame.id, incarnation: frame.inc ?? '', metadata: { ...frame.meta }, token: frame.token, ...claimExtras };
  const verdict = authenticator?.check(claim);
  if (!(verdict instanceof Promise)) return afterCheck(frame, verdict, ctx, claim.remoteAddress);
  return verdict.then(
    (v) => afterCheck(frame, v, ctx, claim.remoteAddress),
    (e: unknown) => afterCheck(frame, messages.authenticateFailed(messages.safeErrorText(e)), ctx, claim.remoteAddress),
  );
}

function afterCheck(frame: HelloFrame, verdict: AuthVerdict, ctx: Pick<LinkContext, 'reporter' | 'rule'>, address: string): HandshakeStep {
  if (verdict !== undefined) return { kind: 'refuse', reason: 'auth-failed', why: verdict };
  const incarnation = frame.inc ?? '';
  const refused = ctx.reporter.admit({ peerId: frame.id, incarnation, address });
  if (refused) return { kind: 'refuse', reason: refused.reason, why: refused.why };
  return { kind: 'open', peerId: frame.id, metadata: { ...frame.meta }, incarnation, drains: frame.caps?.includes('drain') ?? false, rule: ctx.rule };
}

/** Outbound: what to do with the server's welcome. */
export function answerWelcome(
  frame: WelcomeFrame, ctx: Pick<LinkContext, 'reporter' | 'rule' | 'heartbeat'>, expectNodeId: string | undefined, address: string,
): HandshakeStep {
  const problem = welcomeProblem(frame);
  if (problem) return { kind: 'fail', why: problem };
  if (expectNodeId !== undefined && frame.id !== expectNodeId) {
    return { kind: 'decline', cause: 'identity-mismatch', why: messages.identityMismatch(address, expectNodeId, frame.id) };
  }
  // A floor beyond our own lost threshold would switch detection off on this link.
  if (frame.minPing !== undefined && frame.minPing > ctx.rule.lostAfterMs) {
    return { kind: 'decline', cause: 'protocol-error', why: messages.minPingBeyondDetection(frame.minPing, ctx.rule.lostAfterMs) };
  }
  const incarnation = frame.inc ?? '';
  const refused = ctx.reporter.admit({ peerId: frame.id, incarnation, address });
  if (refused) return { kind: 'decline', cause: refused.reason, why: refused.why };
  return {
    kind: 'open', peerId: frame.id, metadata: { ...frame.meta }, incarnation, drains: false,
    rule: ruleAfterWelcome(ctx.rule, ctx.heartbeat, frame.minPing),
  };
}

/** A hello's form: version, identity fields within their limits, a name that is not a stock client's. */
export function helloProblem(frame: HelloFrame): string | undefined {
  if (frame.v !== PROTOCOL_VERSION) return messages.unsupportedProtocol(frame.v);
  const problem = identityFrameProblem(frame);
  if (problem) return messages.malformedIdentity('hello', problem);
  // `tcp:host:port` is how a stock client is named: a peer that says hello cannot pass for one.
  if (frame.id.startsWith('tcp:')) return messages.stockPrefixClaimed();
  return undefined;
}

/** A welcome's form, as helloProblem. */
export function welcomeProblem(frame: WelcomeFrame): string | undefined {
  if (frame.v !== PROTOCOL_VERSION) return messages.unsupportedProtocol(frame.v);
  const problem = identityFrameProblem(frame);
  return problem ? messages.malformedIdentity('welcome', problem) : undefined;
}

/**
 * The rule of an outbound link once the server has said how fast we may ping: the server's
 * floor wins on that link, and detection follows the slower beat.
 */
export function ruleAfterWelcome(
  own: DetectionRule, heartbeat: { intervalMs: number; missedBeats: number; suspectAfterBeats: number }, minPingMs: number | undefined,
): DetectionRule {
  if (minPingMs === undefined || minPingMs <= heartbeat.intervalMs) return own;
  return detectionRule({ ...heartbeat, intervalMs: minPingMs });
}
