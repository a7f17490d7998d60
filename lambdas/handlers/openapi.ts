import { httpApi } from '../http/middleware';
import { openApiDocument } from '../http/openapi';

/** The API's OpenAPI 3.1 document, built from the same zod schemas the handlers validate with. */
export const handler = httpApi(
  {
    'GET /v1/openapi.json': async () => ({
      body: openApiDocument(),
      headers: { 'cache-control': 'public, max-age=300' },
    }),
  },
  { public: true },
);
