// The OpenAPI 3.1 description of every route, built from the same zod schemas and route objects
// the server mounts (so it cannot drift), and a plain HTML page rendered from it for /docs (no
// scripts, no CDN).

import { z } from "zod";
import type { ExmoRoute, PriorityClass } from "../exmo/route.ts";

export interface OpsRoute {
  method: "GET";
  url: string;
  summary: string;
  priority: PriorityClass;
  params: z.ZodObject;
  contentType: string;
}

type JsonSchema = Record<string, unknown>;

interface ParameterDoc {
  name: string;
  required: boolean;
  schema: JsonSchema;
}

function parameterDocs(schema: z.ZodObject): ParameterDoc[] {
  const json = z.toJSONSchema(schema, { io: "input" }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    required: required.has(name),
    schema: property,
  }));
}

const EXMO_ERROR_SCHEMA = {
  type: "object",
  properties: { result: { const: false }, error: { type: "string", pattern: "^Error [0-9]+: " } },
  required: ["result", "error"],
};

function exmoOperation(route: ExmoRoute, method: "get" | "post"): JsonSchema {
  const params = parameterDocs(route.params);
  const formSchema = {
    type: "object",
    properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
    required: params.filter((p) => p.required).map((p) => p.name),
  };
  const operation: JsonSchema = {
    summary: route.summary,
    operationId: `${method}_${route.path.replaceAll("/", "_")}`,
    tags: [route.scope === null ? "public" : "private"],
    "x-priority-class": route.priority,
    responses: {
      "200": {
        description: "The EXMO answer, or an EXMO error body (EXMO answers errors with HTTP 200)",
        content: {
          "application/json": { schema: { oneOf: [{ type: ["object", "array"] }, EXMO_ERROR_SCHEMA] } },
        },
      },
    },
  };
  if (method === "get") {
    operation.parameters = params.map((p) => ({
      name: p.name,
      in: "query",
      required: p.required,
      schema: p.schema,
    }));
  } else {
    const body =
      route.scope === null
        ? formSchema
        : {
            ...formSchema,
            properties: {
              nonce: { type: "string", pattern: "^[1-9][0-9]{0,15}$" },
              ...formSchema.properties,
            },
            required: ["nonce", ...formSchema.required],
          };
    operation.requestBody = {
      required: route.scope !== null,
      content: { "application/x-www-form-urlencoded": { schema: body } },
    };
  }
  if (route.scope !== null) {
    operation.security = [{ exmoKey: [], exmoSign: [] }];
    operation["x-required-scope"] = route.scope;
  }
  return operation;
}

export function openApiDocument(routes: readonly ExmoRoute[], ops: readonly OpsRoute[]): JsonSchema {
  const paths: Record<string, JsonSchema> = {};
  for (const route of routes) {
    paths[`/v1.1/${route.path}`] =
      route.scope === null
        ? { get: exmoOperation(route, "get"), post: exmoOperation(route, "post") }
        : { post: exmoOperation(route, "post") };
  }
  for (const op of ops) {
    paths[op.url] = {
      get: {
        summary: op.summary,
        operationId: `ops${op.url.replaceAll(/[^a-z]/g, "_")}`,
        tags: ["operations"],
        "x-priority-class": op.priority,
        responses: { "200": { description: op.summary, content: { [op.contentType]: {} } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Bulwark EXMO-compatible API",
      version: "1.1",
      description:
        'EXMO v1.1 REST. Private calls: POST a urlencoded body whose first field is nonce (strictly increasing per key); headers Key (the API key) and Sign (lowercase hex HMAC-SHA512 of the raw body with the secret). Errors: {"result":false,"error":"Error NNNNN: text"} with HTTP 200.',
    },
    components: {
      securitySchemes: {
        exmoKey: { type: "apiKey", in: "header", name: "Key" },
        exmoSign: { type: "apiKey", in: "header", name: "Sign" },
      },
    },
    paths,
  };
}

function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

function describeSchema(schema: JsonSchema): string {
  const parts: string[] = [];
  if (Array.isArray(schema.enum)) parts.push(`one of ${schema.enum.join(", ")}`);
  else if (typeof schema.type === "string") parts.push(schema.type);
  if (typeof schema.maxLength === "number") parts.push(`≤ ${schema.maxLength} chars`);
  if (typeof schema.pattern === "string") parts.push(`pattern ${schema.pattern}`);
  return parts.join(", ");
}

interface OperationView {
  summary?: string;
  "x-priority-class"?: string;
  "x-required-scope"?: string;
  parameters?: ParameterDoc[];
  requestBody?: {
    content: Record<string, { schema: { properties?: Record<string, JsonSchema>; required?: string[] } }>;
  };
}

function operationParams(operation: OperationView): ParameterDoc[] {
  if (operation.parameters !== undefined) return operation.parameters;
  const schema = Object.values(operation.requestBody?.content ?? {})[0]?.schema;
  const required = new Set(schema?.required ?? []);
  return Object.entries(schema?.properties ?? {}).map(([name, s]) => ({
    name,
    required: required.has(name),
    schema: s,
  }));
}

/** A readable page listing every path, method, auth scope, priority class and parameter. */
export function docsHtml(document: JsonSchema): string {
  const paths = document.paths as Record<string, Record<string, OperationView>>;
  const sections = Object.entries(paths).map(([path, methods]) => {
    const rows = Object.entries(methods).map(([method, operation]) => {
      const params = operationParams(operation)
        .map(
          (p) =>
            `<li><code>${escapeHtml(p.name)}</code>${p.required ? " (required)" : ""} ${escapeHtml(describeSchema(p.schema))}</li>`,
        )
        .join("");
      return `<h3>${method.toUpperCase()} <code>${escapeHtml(path)}</code></h3>
<p>${escapeHtml(operation.summary ?? "")}</p>
<p>priority: ${escapeHtml(operation["x-priority-class"] ?? "")}${operation["x-required-scope"] === undefined ? "" : `; key scope: ${escapeHtml(operation["x-required-scope"])}`}</p>
${params === "" ? "<p>No parameters.</p>" : `<ul>${params}</ul>`}`;
    });
    return `<section>${rows.join("\n")}</section>`;
  });
  const info = document.info as { title: string; description: string };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}code{background:#eee;padding:0 .2em}section{border-top:1px solid #ccc}</style>
</head><body><h1>${escapeHtml(info.title)}</h1><p>${escapeHtml(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
${sections.join("\n")}
</body></html>`;
}
