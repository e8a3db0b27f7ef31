import * as messages from '../common/heartbeat.messages.js';
import { detectionRule, type DetectionRule } from '../detector/failure-detector.js';
import { identityFrameProblem, PROTOCOL_VERSION, type HelloFrame, type WelcomeFrame } from '../protocol/frames.js';

/** Why a handshake frame cannot be taken: the reason the link ends with, and the detail for logs. */
export interface Refusal {
  reason: 'protocol-error';
  why: string;
}

/** A hello's form: version and identity fields within their limits. Who may claim what is the authenticator's. */
export function helloProblem(frame: HelloFrame): Refusal | undefined {
  if (frame.v !== PROTOCOL_VERSION) return { reason: 'protocol-error', why: messages.unsupportedProtocol(frame.v) };
  const problem = identityFrameProblem(frame);
  if (problem) return { reason: 'protocol-error', why: messages.malformedIdentity('hello', problem) };
  // `tcp:host:port` is how a stock client is named: a peer that says hello cannot pass for one.
  if (frame.id.startsWith('tcp:')) return { reason: 'protocol-error', why: messages.stockPrefixClaimed() };
  return undefined;
}

/** A welcome's form, as helloProblem. */
export function welcomeProblem(frame: WelcomeFrame): Refusal | undefined {
  if (frame.v !== PROTOCOL_VERSION) return { reason: 'protocol-error', why: messages.unsupportedProtocol(frame.v) };
  const problem = identityFrameProblem(frame);
  if (problem) return { reason: 'protocol-error', why: messages.malformedIdentity('welcome', problem) };
  return undefined;
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
