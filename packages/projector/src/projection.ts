export type { Projection, ProjectionChange } from '@lightdom/readmodel';
