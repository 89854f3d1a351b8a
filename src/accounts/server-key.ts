// The server key that seals API secrets at rest (accounts/secret-box.ts). It must live outside
// the database, so a dump of the store alone yields no usable secret:
// - BULWARK_SERVER_KEY (32 bytes, base64) when set: the operator keeps it in their secret manager;
// - otherwise <dataDir>/server.key, generated on first use with mode 0600.
// Losing the key makes every stored API secret unreadable (keys must then be re-issued).

import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateServerKey, parseServerKey, SecretBox } from "./secret-box.ts";

export const SERVER_KEY_FILE_NAME = "server.key";
export const SERVER_KEY_ENV = "BULWARK_SERVER_KEY";
/** Owner read/write only: anyone else who can read it can open every API secret. */
const SERVER_KEY_FILE_MODE = 0o600;

export interface LoadedServerKey {
  secretBox: SecretBox;
  source: "env" | "file" | "generated";
  /** The key file, when the key came from (or was written to) one. */
  path: string | null;
}

export function loadServerKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): LoadedServerKey {
  const fromEnv = env[SERVER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== "") {
    return { secretBox: new SecretBox(parseKey(fromEnv.trim(), SERVER_KEY_ENV)), source: "env", path: null };
  }
  const path = join(dataDir, SERVER_KEY_FILE_NAME);
  const existing = readKeyFile(path);
  if (existing !== null) return { secretBox: new SecretBox(parseKey(existing, path)), source: "file", path };
  mkdirSync(dataDir, { recursive: true });
  const text = generateServerKey();
  // "wx": never overwrite a key another process wrote a moment ago; losing it loses every secret.
  writeFileSync(path, `${text}\n`, { mode: SERVER_KEY_FILE_MODE, flag: "wx" });
  chmodSync(path, SERVER_KEY_FILE_MODE);
  return { secretBox: new SecretBox(parseKey(text, path)), source: "generated", path };
}

function readKeyFile(path: string): string | null {
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0)
      throw new Error(`${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
    return readFileSync(path, "utf8").trim();
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

function parseKey(text: string, where: string): Buffer {
  try {
    return parseServerKey(text);
  } catch (error) {
    throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
