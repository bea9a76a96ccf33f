import { runService, startTracing } from '@lightdom/runtime';
import { loadAiWorkerConfig } from './config.js';
import { startAiWorkerService } from './service.js';

runService('ai-worker', async (logger) => {
  const config = loadAiWorkerConfig();
  const tracing = startTracing(config, 'ai-worker', logger);
  const service = await startAiWorkerService(config, logger);
  return {
    async stop() {
      await service.stop();
      await tracing.shutdown();
    },
  };
});
