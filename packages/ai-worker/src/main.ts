import { runService } from '@lightdom/runtime';
import { loadAiWorkerConfig } from './config.js';
import { startAiWorkerService } from './service.js';

runService('ai-worker', async (logger) => startAiWorkerService(loadAiWorkerConfig(), logger));
