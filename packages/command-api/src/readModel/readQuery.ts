export { readQuery } from '@lightdom/readmodel';
