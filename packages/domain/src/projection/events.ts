export interface ProjectionEventData {
  /** `projection` repeats the aggregate id, so the event reads on its own (in a feed, an export). */
  ProjectionCommitSkipped: { projection: string; position: number; reason: string };
}

export type ProjectionEventType = keyof ProjectionEventData;

export type ProjectionEvent = {
  [K in ProjectionEventType]: { type: K; data: ProjectionEventData[K] };
}[ProjectionEventType];

/** Current schemaVersion of every projection event. */
export const projectionEventVersions: Record<ProjectionEventType, number> = {
  ProjectionCommitSkipped: 1,
};
