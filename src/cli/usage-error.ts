/** A command given wrongly (an unknown flag, a missing id, flags that contradict): exit 2, the message and the usage. */
export class UsageError extends Error {}
