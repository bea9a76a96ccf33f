// The read model's queries live with its schema, in @lightdom/readmodel.
export {
  type CampaignQueries,
  type CampaignView,
  createCampaignQueries,
  decodeCursor,
  type ListCampaignsQuery,
  toCampaignView,
} from '@lightdom/readmodel';
