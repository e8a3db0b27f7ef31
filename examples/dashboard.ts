// An HTTP app that serves the live presence page at /heartbeat, behind a password.
import { Injectable, Module, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { timingSafeEqual } from 'node:crypto';
import { HeartbeatModule } from 'nest-heartbeat';
import { HeartbeatDashboardModule } from 'nest-heartbeat/dashboard';

/**
 * HTTP Basic authentication: the browser asks once, then sends the password with every request
 * of the page, its live stream included. Without DASHBOARD_PASSWORD, nobody gets in.
 */
@Injectable()
class DashboardAuthGuard implements CanActivate {
  private readonly expected = Buffer.from(`Basic ${Buffer.from(`ops:${process.env.DASHBOARD_PASSWORD}`).toString('base64')}`);

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const given = Buffer.from(http.getRequest().headers.authorization ?? '');
    if (process.env.DASHBOARD_PASSWORD && given.length === this.expected.length && timingSafeEqual(given, this.expected)) return true;
    // Express's response and Fastify's reply both have header().
    http.getResponse<{ header(name: string, value: string): unknown }>().header('WWW-Authenticate', 'Basic realm="presence"');
    throw new UnauthorizedException();
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      nodeId: 'gateway-1',
      clients: [{ name: 'ORDERS', host: process.env.ORDERS_HOST ?? '127.0.0.1', port: Number(process.env.ORDERS_PORT ?? 4000) }],
    }),
    HeartbeatDashboardModule.forRoot({ guard: DashboardAuthGuard }), // path: '/heartbeat' by default
  ],
})
class GatewayModule {}

async function bootstrap() {
  const app = await NestFactory.create(GatewayModule);
  app.enableShutdownHooks();
  await app.listen(Number(process.env.HTTP_PORT ?? 3000), process.env.HTTP_HOST ?? '127.0.0.1');
  console.log(`presence page at http://127.0.0.1:${process.env.HTTP_PORT ?? 3000}/heartbeat`);
}
void bootstrap();
