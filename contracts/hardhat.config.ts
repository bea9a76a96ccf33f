import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from 'hardhat/builtin-tasks/task-names';
import { subtask } from 'hardhat/config';
import type { HardhatUserConfig } from 'hardhat/types';

const solidityVersion = '0.8.28';

// No compiler download: the solc-js build that the pinned `solc` package ships is used.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== solidityVersion) return runSuper(args);
  const solc = require('solc') as { version(): string };
  return {
    compilerPath: require.resolve('solc/soljson.js'),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: solc.version().replace(/\.Emscripten.*$/, ''),
  };
});

const config: HardhatUserConfig = {
  solidity: { version: solidityVersion, settings: { optimizer: { enabled: true, runs: 200 } } },
  networks: { hardhat: { chainId: 31337 } },
  mocha: { timeout: 20_000 },
};

export default config;
