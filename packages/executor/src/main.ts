import { runService, startTracing } from '@lightdom/runtime';
import { loadExecutorConfig } from './config.js';
import { startExecutorService } from './service.js';

runService('executor', async (logger) => {
  const config = loadExecutorConfig();
  const tracing = startTracing(config, 'executor', logger);
  const service = await startExecutorService(config, logger);
  return {
    async stop() {
      await service.stop();
      await tracing.shutdown();
    },
  };
});
