// The web app (web/, built by scripts/build.mjs into dist/web): served at `/` beside the API on the
// same port. Only the files the build wrote are served (listed once at mount time, so a request
// path is looked up in a map and never joined onto the file system: no traversal), and only the
// app's own client-side routes answer index.html, so no API path (/v1, /v1.1, /status, /metrics,
// /operator…) is ever shadowed: those keep their own routes and their EXMO-style 404.
//
// Text files (scripts, styles, the page) are served gzipped to clients that accept it: each is
// compressed once, on its first request (≈60 ms for the main bundle, so a server no browser visits
// never pays it), and kept beside the original, with Vary: Accept-Encoding.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants as zlibConstants } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** dist/web of this checkout: src/gateway/http and dist/gateway/http are both three levels down. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../../../dist/web", import.meta.url));

/** The single-page app's routes that answer index.html (the client router draws them). */
export const WEB_CLIENT_ROUTES = [
  "/",
  "/markets",
  "/trade/:pair",
  "/wallet",
  "/account",
  "/login",
  "/signup",
  "/reserves",
  "/console",
  "/console/:section",
] as const;

/** Bounds of what is read into memory at mount time: a build is a few files of a few hundred KB. */
const MAX_WEB_FILES = 200;
const MAX_WEB_BYTES = 20 * 1024 * 1024;
/** Smaller files are sent as they are: the gzip header and a round of inflating cost more than they save. */
const MIN_COMPRESSED_BYTES = 1_024;
/** Longest Accept-Encoding header read (a browser's is under 100 characters). */
const MAX_ACCEPT_ENCODING_LENGTH = 256;
/** Content types worth compressing (images and fonts are compressed already). */
const COMPRESSIBLE = /^(text\/|application\/json|image\/svg\+xml)/;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

interface WebFile {
  body: Buffer;
  contentType: string;
  cacheControl: string;
  /** The gzipped body, made on the first request that accepts it; null: not worth compressing. */
  gzipped?: Buffer | null;
}

/** Every file under the build, keyed by its URL path (`/assets/index-3f2a.js`). */
export function loadWebFiles(webRoot: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  let totalBytes = 0;
  const walk = (directory: string, depth: number): void => {
    if (depth > 4) throw new Error(`web build under ${webRoot} is nested deeper than 4 directories`);
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        walk(path, depth + 1);
        continue;
      }
      if (!entry.isFile()) continue;
      const contentType = CONTENT_TYPES[extname(entry.name)];
      if (contentType === undefined) continue;
      if (files.size >= MAX_WEB_FILES)
        throw new Error(`web build under ${webRoot} has over ${MAX_WEB_FILES} files`);
      totalBytes += statSync(path).size;
      if (totalBytes > MAX_WEB_BYTES)
        throw new Error(`web build under ${webRoot} is over ${MAX_WEB_BYTES} bytes`);
      const urlPath = `/${relative(webRoot, path).split(sep).join("/")}`;
      // Vite names what is under assets/ by content hash: a new build is a new name, so cache it for good.
      const hashed = urlPath.startsWith("/assets/");
      files.set(urlPath, {
        body: readFileSync(path),
        contentType,
        cacheControl: hashed ? "public, max-age=31536000, immutable" : "no-cache",
      });
    }
  };
  walk(webRoot, 0);
  return files;
}

/** Whether an Accept-Encoding header accepts gzip (listed without `;q=0`, or `*` is). */
export function acceptsGzip(acceptEncoding: string | string[] | undefined): boolean {
  if (typeof acceptEncoding !== "string") return false;
  let accepted = false;
  for (const part of acceptEncoding.slice(0, MAX_ACCEPT_ENCODING_LENGTH).split(",")) {
    const [name, ...parameters] = part.split(";").map((piece) => piece.trim().toLowerCase());
    if (name !== "gzip" && name !== "*") continue;
    const refused = parameters.some((parameter) => /^q=0(\.0{0,3})?$/.test(parameter));
    if (name === "gzip") return !refused;
    accepted = !refused;
  }
  return accepted;
}

function gzippedBody(file: WebFile): Buffer | null {
  if (file.gzipped === undefined)
    file.gzipped =
      file.body.length >= MIN_COMPRESSED_BYTES && COMPRESSIBLE.test(file.contentType)
        ? gzipSync(file.body, { level: zlibConstants.Z_BEST_COMPRESSION })
        : null;
  return file.gzipped;
}

function send(request: FastifyRequest, reply: FastifyReply, file: WebFile): FastifyReply {
  reply
    .header("content-type", file.contentType)
    .header("cache-control", file.cacheControl)
    .header("x-content-type-options", "nosniff");
  // A route that also varies by another header (GET /status by Accept) set it before.
  const vary = reply.getHeader("vary");
  reply.header("vary", typeof vary === "string" ? `${vary}, accept-encoding` : "accept-encoding");
  const gzipped = acceptsGzip(request.headers["accept-encoding"]) ? gzippedBody(file) : null;
  return gzipped === null ? reply.send(file.body) : reply.header("content-encoding", "gzip").send(gzipped);
}

/** The mounted app: other routes (GET /status for a browser) answer its page with this. */
export interface WebApp {
  sendIndex(request: FastifyRequest, reply: FastifyReply): FastifyReply;
}

/**
 * Mounts the app when its build exists; without one (a checkout where `npm run build` has not run)
 * `/` says how to build it instead of an empty page. Returns the app when it is built, else null.
 */
export function mountWebRoutes(fastify: FastifyInstance, webRoot: string | null): WebApp | null {
  if (webRoot === null) return null;
  // No guard lane and no class: the app's files are not charged to the API's rate limit (they
  // are served from memory, immutable, cached by browsers and the edge; a page load is a dozen of
  // them). The API calls the pages make are charged like any client's.
  const config = {};
  const index = join(webRoot, "index.html");
  if (!existsSync(index)) {
    fastify.get("/", { config }, (_request, reply) =>
      reply
        .code(503)
        .header("content-type", "text/plain; charset=utf-8")
        .send("The web app is not built: run `npm run build` (npm ci does it), then restart.\n"),
    );
    return null;
  }
  const files = loadWebFiles(webRoot);
  const indexFile = files.get("/index.html")!;
  for (const url of WEB_CLIENT_ROUTES)
    fastify.get(url, { config }, (request, reply) => send(request, reply, indexFile));
  for (const [url, file] of files) {
    if (url === "/index.html") continue;
    fastify.get(url, { config }, (request, reply) => send(request, reply, file));
  }
  return { sendIndex: (request, reply) => send(request, reply, indexFile) };
}
