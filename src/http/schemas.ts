/**
 * Response schemas shared by the routes. They fix key order and let Fastify
 * serialise compactly and fast; the wire format is the original's.
 */
export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

export const sessionSchema = {
  type: 'object',
  required: ['id', 'name', 'data', 'created_at', 'last_active', 'access_count'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    data: { type: 'object', additionalProperties: true },
    created_at: { type: 'string' },
    last_active: { type: 'string' },
    access_count: { type: 'integer' },
  },
} as const;

export const idParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' } },
} as const;
