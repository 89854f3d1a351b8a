// Password hashing with scrypt (docs/SECURITY.md#accounts-and-api-keys). Each hash
// carries its own random salt and cost parameters, so costs can be raised later and old hashes
// still verify (`needsRehash` says when to upgrade one at the next successful login).
//
// Stored format, PHC string style:  $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>
// with salt and hash in unpadded base64. Default cost N=2^15, r=8, p=3: one of OWASP's
// equivalent scrypt settings, 32 MiB per hash (N=2^17, p=1 would need 128 MiB per concurrent
// login).

import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  logN: number;
  blockSize: number;
  parallelization: number;
}

export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = { logN: 15, blockSize: 8, parallelization: 3 };
/** Bounds a stored hash is allowed to ask for: a tampered row must not make us allocate gigabytes. */
export const SCRYPT_LIMITS = {
  minLogN: 10,
  maxLogN: 20,
  maxBlockSize: 16,
  maxParallelization: 16,
  maxMemoryBytes: 256 * 1024 * 1024,
} as const;
export const SALT_BYTES = 16;
export const HASH_BYTES = 32;
/** Passwords longer than this (UTF-8 bytes, after NFC normalization) are refused. */
export const MAX_PASSWORD_BYTES = 1024;
export const MIN_PASSWORD_LENGTH = 8;

const STORED =
  /^\$scrypt\$ln=([0-9]{1,2}),r=([0-9]{1,2}),p=([0-9]{1,2})\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/;

function scryptMemoryBytes(params: ScryptParams): number {
  return 128 * 2 ** params.logN * params.blockSize;
}

/** Which parameter is outside SCRYPT_LIMITS (or "memory"), or null when all are within them. */
export function scryptParamsProblem(params: ScryptParams): string | null {
  const { logN, blockSize, parallelization } = params;
  if (!Number.isInteger(logN) || logN < SCRYPT_LIMITS.minLogN || logN > SCRYPT_LIMITS.maxLogN) return "logN";
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > SCRYPT_LIMITS.maxBlockSize)
    return "blockSize";
  if (
    !Number.isInteger(parallelization) ||
    parallelization < 1 ||
    parallelization > SCRYPT_LIMITS.maxParallelization
  )
    return "parallelization";
  if (scryptMemoryBytes(params) > SCRYPT_LIMITS.maxMemoryBytes) return "memory";
  return null;
}

/** NFC so the same password typed on different systems hashes the same; null if out of bounds. */
function passwordBytes(password: string): Buffer | null {
  if (typeof password !== "string" || password.length === 0) return null;
  const bytes = Buffer.from(password.normalize("NFC"), "utf8");
  return bytes.length > MAX_PASSWORD_BYTES ? null : bytes;
}

function runScrypt(password: Buffer, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: 2 ** params.logN,
    r: params.blockSize,
    p: params.parallelization,
    // Node refuses anything at or above maxmem; leave headroom over the exact requirement.
    maxmem: scryptMemoryBytes(params) * 2,
  };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, HASH_BYTES, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

const unpadded = (bytes: Buffer) => bytes.toString("base64").replace(/=+$/, "");

/** Registration-time policy: null if acceptable, else why not. */
export function passwordPolicyProblem(password: string): "tooShort" | "tooLong" | null {
  if ([...password.normalize("NFC")].length < MIN_PASSWORD_LENGTH) return "tooShort";
  if (passwordBytes(password) === null) return "tooLong";
  return null;
}

/** Hashes with a fresh random salt. Throws on an empty or oversized password or bad params. */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  const problem = scryptParamsProblem(params);
  if (problem !== null) throw new RangeError(`scrypt parameter out of bounds: ${problem}`);
  const bytes = passwordBytes(password);
  if (bytes === null) throw new RangeError(`password must be 1..${MAX_PASSWORD_BYTES} bytes`);
  const salt = randomBytes(SALT_BYTES);
  const hash = await runScrypt(bytes, salt, params);
  return `$scrypt$ln=${params.logN},r=${params.blockSize},p=${params.parallelization}$${unpadded(salt)}$${unpadded(hash)}`;
}

interface StoredHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

function parseStored(stored: string): StoredHash {
  const match = typeof stored === "string" ? STORED.exec(stored) : null;
  if (match === null) throw new Error("stored password hash is malformed");
  const params = { logN: Number(match[1]), blockSize: Number(match[2]), parallelization: Number(match[3]) };
  const problem = scryptParamsProblem(params);
  if (problem !== null) throw new Error(`stored password hash has out-of-bounds ${problem}`);
  return { params, salt: Buffer.from(match[4], "base64"), hash: Buffer.from(match[5], "base64") };
}

/**
 * True when `password` matches `stored`. The final comparison is constant-time. A wrong or
 * oversized password is false; a malformed `stored` throws, since that is corrupt data, not a
 * failed login.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const { params, salt, hash } = parseStored(stored);
  const bytes = passwordBytes(password);
  if (bytes === null) return false;
  const candidate = await runScrypt(bytes, salt, params);
  return timingSafeEqual(candidate, hash);
}

/** True when `stored` was made with parameters other than `params`: rehash after a good login. */
export function needsRehash(stored: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const current = parseStored(stored).params;
  return (
    current.logN !== params.logN ||
    current.blockSize !== params.blockSize ||
    current.parallelization !== params.parallelization
  );
}
