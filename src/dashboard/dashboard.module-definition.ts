import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { HeartbeatDashboardOptions } from './dashboard-options.interface.js';

export const {
  ConfigurableModuleClass: DashboardConfigurableModule,
  MODULE_OPTIONS_TOKEN: DASHBOARD_MODULE_OPTIONS,
  OPTIONS_TYPE: DASHBOARD_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<HeartbeatDashboardOptions>({ moduleName: 'HeartbeatDashboard' })
  .setClassMethodName('forRoot')
  .build();
