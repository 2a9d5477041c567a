/** Small fetch wrappers for tests: the raw body text and the parsed JSON. */
export interface HttpAnswer {
  status: number;
  text: string;
  json: unknown;
  contentType: string | null;
}

export async function request(
  url: string,
  method = 'GET',
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json, contentType: response.headers.get('content-type') };
}

export function postJson(url: string, value: unknown, method = 'POST'): Promise<HttpAnswer> {
  return request(url, method, JSON.stringify(value), { 'content-type': 'application/json' });
}

// biome-ignore lint/suspicious/noExplicitAny: test convenience for reading answer fields
export function field(answer: HttpAnswer): any {
  return answer.json;
}
