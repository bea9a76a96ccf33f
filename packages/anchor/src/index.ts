export {
  buildProof,
  type ChainCheckReport,
  type ChainProblem,
  checkExportAgainstRoots,
  checkProof,
  type InclusionProof,
  proofFormat,
  verifyLogAgainstChain,
} from './audit.js';
export {
  type AnchorClient,
  type AnchorClientOptions,
  AnchorRefused,
  type AnchorResult,
  auditAnchorAbi,
  auditAnchorBytecode,
  type ChainReference,
  createAnchorClient,
  deployAuditAnchor,
  ensureLocalChain,
  hardhatDevKey,
  type LocalChain,
  type OnChainCheckpoint,
  readSignerKeyFile,
  rpcAnswers,
} from './chain.js';
export {
  type Checkpointer,
  type CheckpointerOptions,
  checkpointId,
  createCheckpointer,
  type RecordedCheckpoint,
  readRange,
  readRecordedCheckpoints,
  waitUntilAnchored,
} from './checkpointer.js';
export { type AnchorConfig, anchorConfigSchema, loadAnchorConfig } from './config.js';
export { type AnchorDeployConfig, anchorDeployConfigSchema, loadAnchorDeployConfig } from './deployConfig.js';
export { type Deployment, ensureDeployment } from './deployment.js';
export { inclusionPath, leafHash, merkleRoot, nodeHash, type ProofStep, rootFromPath } from './merkle.js';
