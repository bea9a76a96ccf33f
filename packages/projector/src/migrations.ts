// The read-model schema and its migrations live in @lightdom/readmodel.
export { migrate } from '@lightdom/readmodel';
