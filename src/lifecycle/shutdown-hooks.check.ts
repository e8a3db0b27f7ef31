import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import * as messages from '../common/heartbeat.messages.js';

const CHECK_DELAY_MS = 1000;

/** One warning per process, however many applications it runs. */
let warned = false;

/**
 * Warns once when SIGTERM would kill this process without Nest's shutdown hooks: no goodbye is
 * sent, so every peer reports it `lost` (`closed-without-goodbye`) instead of `left` — a false
 * alarm on each deploy. Any SIGTERM listener counts as handled: `enableShutdownHooks()`
 * registers one, and so does an application that closes itself in its own handler.
 *
 * Checked a second after bootstrap, not at it: `NestFactory.createApplicationContext()` and a
 * microservice's `init()` bootstrap before they return (the latter then still awaits a dynamic
 * import), so `enableShutdownHooks()` is often called just after.
 */
@Injectable()
export class ShutdownHooksCheck implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('HeartbeatModule');
  private timer: NodeJS.Timeout | undefined;

  onApplicationBootstrap(): void {
    this.timer = setTimeout(() => this.check(), CHECK_DELAY_MS).unref();
  }

  onApplicationShutdown(): void {
    clearTimeout(this.timer);
  }

  private check(): void {
    if (warned || process.listenerCount('SIGTERM') > 0) return;
    warned = true;
    const unhandled = ['SIGTERM', 'SIGINT'].filter((s) => process.listenerCount(s) === 0);
    this.logger.warn(messages.noShutdownHooks(unhandled));
  }
}
