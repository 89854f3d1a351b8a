// The flood guard's settings from the environment, for `bulwark start` (src/server/server.ts);
// options given in code win over these (docs/SECURITY.md#flood-resilience, docs/deploy.md):
//
//   BULWARK_REDIS_URL        redis://127.0.0.1:6379/0 — rate-limit counters and bans shared by
//                            every gateway using the same Redis and prefix (memory as insurance)
//   BULWARK_REDIS_PREFIX     key prefix, one per deployment sharing a Redis; default "bulwark"
//   BULWARK_RATE_LIMIT_TIERS JSON: {"marketMaker":{"requestsPerSecond":100,"burst":200,"cancel":{…}}}
//   BULWARK_KEY_TIERS        JSON: {"<api key id>":"marketMaker", …}
//   BULWARK_TRUSTED_PROXIES  comma-separated CIDRs/addresses whose forwarded client address is believed
//   BULWARK_CLIENT_IP_HEADER the header they put it in; default x-forwarded-for (e.g. cf-connecting-ip)
//   BULWARK_LOAD_SHEDDING    "on" / "off"; unset: on for `bulwark start` (under sustained event-loop
//                            delay the lowest classes get 503 first), off for an embedded server
//                            (startExchangeServer's `loadShedding` option, which tests leave off:
//                            a loaded shared machine shows delays a dedicated one would call an
//                            attack; shedding has its own tests and the flood drill).

import type { LoadShedderOptions } from "./load-shedder.ts";
import type { RateLimitOptions, TierBudget } from "./rate-limit.ts";

export interface GuardEnvOptions {
  rateLimit?: RateLimitOptions | false;
  trustedProxies?: readonly string[];
  clientAddressHeader?: string;
  loadShedding: LoadShedderOptions;
}

/** Reads the guard's environment; throws a plain Error naming the variable when one is malformed. */
export function guardOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  given: { rateLimit?: RateLimitOptions | false; loadShedding?: boolean },
): GuardEnvOptions {
  const fromEnv: RateLimitOptions = {};
  if (env.BULWARK_REDIS_URL) fromEnv.redisUrl = env.BULWARK_REDIS_URL;
  if (env.BULWARK_REDIS_PREFIX) fromEnv.redisKeyPrefix = env.BULWARK_REDIS_PREFIX;
  if (env.BULWARK_RATE_LIMIT_TIERS)
    fromEnv.tiers = jsonObject<TierBudget>("BULWARK_RATE_LIMIT_TIERS", env.BULWARK_RATE_LIMIT_TIERS);
  if (env.BULWARK_KEY_TIERS)
    fromEnv.keyTiers = jsonObject<string>("BULWARK_KEY_TIERS", env.BULWARK_KEY_TIERS);
  const rateLimit = given.rateLimit === false ? false : { ...fromEnv, ...given.rateLimit };
  const proxies = (env.BULWARK_TRUSTED_PROXIES ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  return {
    rateLimit,
    ...(proxies.length === 0 ? {} : { trustedProxies: proxies }),
    ...(env.BULWARK_CLIENT_IP_HEADER ? { clientAddressHeader: env.BULWARK_CLIENT_IP_HEADER } : {}),
    loadShedding: { enabled: sheddingEnabled(env.BULWARK_LOAD_SHEDDING, given.loadShedding ?? false) },
  };
}

/** BULWARK_LOAD_SHEDDING "on" / "off" wins; otherwise the caller's default. */
function sheddingEnabled(text: string | undefined, byDefault: boolean): boolean {
  if (text === "on") return true;
  if (text === "off") return false;
  return byDefault;
}

function jsonObject<V>(name: string, text: string): Record<string, V> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new Error(`${name} must be a JSON object`);
  // Shapes are checked by RequestRateLimiter's constructor (tier names, budgets, known tiers).
  return parsed as Record<string, V>;
}
