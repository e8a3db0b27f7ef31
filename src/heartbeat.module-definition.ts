import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { HeartbeatModuleOptions } from './interfaces/heartbeat-options.interface.js';

export interface HeartbeatModuleExtras {
  isGlobal?: boolean;
  /**
   * forRootAsync only: the names of the `clients` the factory will return, so each can be
   * registered as an injectable HeartbeatClient before the factory runs.
   */
  clientNames?: Array<string | symbol>;
}

export const {
  ConfigurableModuleClass: HeartbeatConfigurableModule,
  MODULE_OPTIONS_TOKEN: HEARTBEAT_MODULE_OPTIONS,
  OPTIONS_TYPE: HEARTBEAT_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: HEARTBEAT_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<HeartbeatModuleOptions>({ moduleName: 'Heartbeat' })
  .setClassMethodName('forRoot')
  .setExtras<HeartbeatModuleExtras>({ isGlobal: false, clientNames: [] }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
