import { runService } from '@lightdom/runtime';
import { loadExecutorConfig } from './config.js';
import { startExecutorService } from './service.js';

runService('executor', async (logger) => startExecutorService(loadExecutorConfig(), logger));
