export { type CliIo, ExitCode, runCli } from './cli/runCli.js';
export { type ExportOptions, type ExportSummary, exportLine, exportLog } from './export.js';
export { type AuditIo, createProgress, type Progress, type ProgressOptions } from './progress.js';
export {
  formatVerifyReport,
  runVerify,
  type VerifyOptions,
  type VerifyReport,
  type VerifySource,
} from './runVerify.js';
export {
  type AuditItem,
  assertRawStore,
  type LogRange,
  type LogSourceDeps,
  type LogSourceOptions,
  readLogCommits,
  readNdjsonCommits,
} from './source.js';
export {
  type ChainSummary,
  type ChainVerifier,
  type ChainVerifierOptions,
  createChainVerifier,
  type Violation,
  type ViolationKind,
} from './verifier.js';
