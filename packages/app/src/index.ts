export { type Action, authorize } from './access.js';
export {
  type Application,
  type ApplicationDeps,
  type Consistency,
  type Credentials,
  createApplication,
  type EventsPage,
  type EventsQuery,
  type PositionSource,
  type ReadResult,
  type RequestContext,
  type SubmitOptions,
  type Subscriptions,
} from './application.js';
export { toCodedError } from './errors.js';
export {
  checkRunOrigin,
  type Definition,
  definitionOf,
  parseRunRequest,
  type RunRequest,
  runRequestData,
  runRequestSchema,
  signalCommand,
} from './runs.js';
export { cronProblem, nextSlot, type ScheduleTiming, scheduleCreateData } from './schedules.js';
