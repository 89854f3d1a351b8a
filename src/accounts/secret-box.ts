// API key secrets at rest. The gateway must keep each secret (it recomputes the HMAC on every
// request), so the database holds it encrypted under a server key that lives outside the
// database (env/secret file). A database dump alone then yields no usable secret.
//
// Key derivation: the operator's server key is 32 random bytes (base64 in config). From it,
// HKDF-SHA256 (salt "bulwark-secret-box", info "bulwark/secret-box/v1/aes-256-gcm") derives the
// AES-256 key, and info "bulwark/secret-box/v1/key-id" derives a 4-byte key id, so sealed values
// say which server key they need without revealing anything about it.
//
// Sealed format (ASCII, fits a TEXT column):
//   bsb1.<key id: 8 hex>.<base64url(iv[12] ‖ ciphertext ‖ tag[16])>
// AES-256-GCM with a fresh random 96-bit IV per seal. The additional authenticated data is
// "bsb1.<key id>." followed by the caller's context (e.g. "api-key:K-…"), so a sealed value
// moved to another row, or with any byte changed, fails to open.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

export const SERVER_KEY_BYTES = 32;
export const MAX_SEALED_PLAINTEXT_BYTES = 4096;
export const MAX_CONTEXT_LENGTH = 256;
const FORMAT_VERSION = "bsb1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 4;
const HKDF_SALT = "bulwark-secret-box";
const HKDF_INFO_KEY = "bulwark/secret-box/v1/aes-256-gcm";
const HKDF_INFO_KEY_ID = "bulwark/secret-box/v1/key-id";
// Longest payload: iv + max plaintext + tag, in base64url (4 chars per 3 bytes, rounded up).
const MAX_PAYLOAD_CHARS = Math.ceil(((IV_BYTES + MAX_SEALED_PLAINTEXT_BYTES + TAG_BYTES) * 4) / 3);
const SEALED = /^bsb1\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)$/;
const STANDARD_BASE64 = /^[A-Za-z0-9+/]{43}=$/;
const URL_BASE64 = /^[A-Za-z0-9_-]{43}$/;

export type OpenFailure =
  /** Not a sealed value of this format, or out of bounds. */
  | "malformed"
  /** Sealed under a different server key (e.g. before a rotation). */
  | "wrongKey"
  /** Authentication failed: a byte changed, or the context differs. */
  | "tampered";

export type OpenResult = { ok: true; plaintext: Buffer } | { ok: false; failure: OpenFailure };

/** A new random server key, as the base64 text an operator puts in config. */
export function generateServerKey(): string {
  return randomBytes(SERVER_KEY_BYTES).toString("base64");
}

/** Decodes a configured server key: exactly 32 bytes in base64 or base64url. Throws otherwise. */
export function parseServerKey(text: string): Buffer {
  if (STANDARD_BASE64.test(text)) return Buffer.from(text, "base64");
  if (URL_BASE64.test(text)) return Buffer.from(text, "base64url");
  throw new Error(`server key must be ${SERVER_KEY_BYTES} bytes in base64 (44 characters)`);
}

function hkdf(serverKey: Uint8Array, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync("sha256", serverKey, HKDF_SALT, info, length));
}

function checkContext(context: string): void {
  if (context.length === 0 || context.length > MAX_CONTEXT_LENGTH) {
    throw new RangeError(`context length must be 1..${MAX_CONTEXT_LENGTH}`);
  }
}

export class SecretBox {
  /** Hex id of the server key; the store can use it to find values sealed under an older key. */
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(serverKey: Uint8Array) {
    if (serverKey.byteLength !== SERVER_KEY_BYTES) {
      throw new RangeError(`server key must be ${SERVER_KEY_BYTES} bytes`);
    }
    this.key = hkdf(serverKey, HKDF_INFO_KEY, 32);
    this.keyId = hkdf(serverKey, HKDF_INFO_KEY_ID, KEY_ID_BYTES).toString("hex");
  }

  private aad(context: string): Buffer {
    return Buffer.from(`${FORMAT_VERSION}.${this.keyId}.${context}`, "utf8");
  }

  /** Encrypts `plaintext` (strings as UTF-8) bound to `context`. */
  seal(plaintext: string | Uint8Array, context: string): string {
    checkContext(context);
    const data = typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : Buffer.from(plaintext);
    if (data.length > MAX_SEALED_PLAINTEXT_BYTES) {
      throw new RangeError(`plaintext must be at most ${MAX_SEALED_PLAINTEXT_BYTES} bytes`);
    }
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.aad(context));
    const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
    const payload = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
    return `${FORMAT_VERSION}.${this.keyId}.${payload.toString("base64url")}`;
  }

  /** Decrypts a value from `seal` with the same context. Never throws on bad input. */
  open(sealed: string, context: string): OpenResult {
    checkContext(context);
    if (typeof sealed !== "string" || sealed.length > MAX_PAYLOAD_CHARS + 16) {
      return { ok: false, failure: "malformed" };
    }
    const match = SEALED.exec(sealed);
    if (match === null) return { ok: false, failure: "malformed" };
    if (match[1] !== this.keyId) return { ok: false, failure: "wrongKey" };
    const payload = Buffer.from(match[2], "base64url");
    // Only the canonical encoding: otherwise unused low bits of the last character would give
    // several texts for one value, and "any changed character fails" would not hold.
    if (payload.toString("base64url") !== match[2]) return { ok: false, failure: "malformed" };
    if (payload.length < IV_BYTES + TAG_BYTES) return { ok: false, failure: "malformed" };
    const iv = payload.subarray(0, IV_BYTES);
    const tag = payload.subarray(payload.length - TAG_BYTES);
    const ciphertext = payload.subarray(IV_BYTES, payload.length - TAG_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", this.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(this.aad(context));
    decipher.setAuthTag(tag);
    try {
      const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      return { ok: true, plaintext };
    } catch {
      // final() throws exactly when the tag does not authenticate.
      return { ok: false, failure: "tampered" };
    }
  }
}
