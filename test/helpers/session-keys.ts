/** A session's keys in the original's wire order. */
export const SESSION_KEYS = ['id', 'name', 'data', 'created_at', 'last_active', 'access_count'];
