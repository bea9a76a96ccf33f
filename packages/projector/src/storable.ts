// The read models' text encoding lives with their schema, in @lightdom/readmodel.
export { storableField, storableJson, storableMaxDepth, storableText, tooDeepMarker } from '@lightdom/readmodel';
