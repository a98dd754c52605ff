/** GET /me: whether the API needs a key, and which key was presented. */
import { type Json, json } from "./builders.ts";
import { unauthorized } from "./common.ts";

/** GET /me. */
export function mePaths(prefix: string): Json {
  return {
    [`${prefix}/me`]: {
      get: {
        tags: ["Operations"],
        operationId: "me",
        summary: "Whether the API needs a key, and which key was presented",
        security: [{ apiKey: [] }, {}],
        responses: {
          200: json("The caller.", {
            type: "object",
            required: ["auth_required", "authenticated", "key"],
            properties: {
              auth_required: { type: "boolean" },
              authenticated: { type: "boolean" },
              key: {
                oneOf: [{ type: "null" }, {
                  type: "object",
                  properties: {
                    name: { type: "string" },
                    prefix: { type: "string" },
                    admin: { type: "boolean" },
                  },
                }],
              },
            },
          }, {
            auth_required: true,
            authenticated: true,
            key: { name: "ci", prefix: "dr_AbCdEfG", admin: false },
          }),
          401: unauthorized(),
        },
      },
    },
  };
}
