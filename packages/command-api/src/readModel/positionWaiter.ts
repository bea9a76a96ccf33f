// Read-your-writes over the read model's checkpoints, in @lightdom/readmodel.
export { createPositionWaiter, type PositionWaiter } from '@lightdom/readmodel';
