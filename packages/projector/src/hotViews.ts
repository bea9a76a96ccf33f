// The hot views live with the read model, in @lightdom/readmodel.
export {
  createHotViews,
  eventsChannel,
  type HotViewOptions,
  type HotViews,
  hotViewKey,
  invalidationChannel,
  viewKeys,
} from '@lightdom/readmodel';
