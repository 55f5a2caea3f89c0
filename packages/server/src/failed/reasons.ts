// Why an event was not stored: stable codes, kept with every failed event, in metrics labels and
// in the API. Adding a reason is one line here.

export const FAILURE_REASONS = {
  invalid: 'the event does not match the event schema (a field missing or of the wrong type)',
  too_large: 'the event, the batch or the body is over its size limit',
  malformed_body: 'the body could not be read as JSON, or is not the shape the route expects',
  plan_violation: "the event breaks its source's tracking plan, which blocks such events",
} as const;

export type FailureReason = keyof typeof FAILURE_REASONS;

export const isFailureReason = (value: unknown): value is FailureReason => typeof value === 'string' && Object.hasOwn(FAILURE_REASONS, value);
