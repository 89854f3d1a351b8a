// Parameters of an EXMO request: the query string (public GET) and the urlencoded form body
// (private POST, and public POST which EXMO also accepts). Parsed from the raw text, bounded in
// count and name length; a name given twice is refused (which one would the signer have meant?).

import { ExmoFailure, MAX_PARAMS, type Params } from "../exmo/route.ts";

const MAX_PARAM_NAME_LENGTH = 64;

/** Parses `a=1&b=2` text. Throws ExmoFailure for too many, duplicate or over-long names. */
export function parseForm(text: string): Params {
  const params: Record<string, string> = Object.create(null);
  if (text.length === 0) return params;
  let count = 0;
  for (const [name, value] of new URLSearchParams(text)) {
    count += 1;
    if (count > MAX_PARAMS) throw new ExmoFailure("payloadTooLarge", `more than ${MAX_PARAMS} parameters`);
    if (name.length === 0 || name.length > MAX_PARAM_NAME_LENGTH)
      throw new ExmoFailure("invalidParameter", name.slice(0, 32));
    if (name in params) throw new ExmoFailure("invalidParameter", name);
    params[name] = value;
  }
  return params;
}

/** The query part of a raw request URL ("" when none). */
export function queryText(rawUrl: string | undefined): string {
  if (rawUrl === undefined) return "";
  const mark = rawUrl.indexOf("?");
  return mark < 0 ? "" : rawUrl.slice(mark + 1);
}

/** Query and body parameters together; a name in both is refused like any duplicate. */
export function mergeParams(query: Params, body: Params): Params {
  const merged: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(query)) merged[name] = value;
  for (const [name, value] of Object.entries(body)) {
    if (name in merged) throw new ExmoFailure("invalidParameter", name);
    merged[name] = value;
  }
  if (Object.keys(merged).length > MAX_PARAMS)
    throw new ExmoFailure("payloadTooLarge", `more than ${MAX_PARAMS} parameters`);
  return merged;
}
