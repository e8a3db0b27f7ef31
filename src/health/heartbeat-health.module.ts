import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HeartbeatHealthIndicator } from './heartbeat-health.indicator.js';

/**
 * Provides `HeartbeatHealthIndicator`. Import it next to `HeartbeatModule.forRoot()` and
 * `TerminusModule` (which gives you `HealthCheckService`); `HeartbeatModule` need not be global.
 * Or skip this module and list `HeartbeatHealthIndicator` in the providers of a module that
 * imports `TerminusModule`.
 */
@Module({
  imports: [TerminusModule],
  providers: [HeartbeatHealthIndicator],
  exports: [HeartbeatHealthIndicator],
})
export class HeartbeatHealthModule {}
