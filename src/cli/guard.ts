// `bulwark guard …`: the flood guard's degraded mode and bans (docs/SECURITY.md#degraded-mode), entries
// of commands.ts's table, through OperatorActions.guard (src/operator/guard-actions.ts). The guard
// lives in the running server's memory, so these go through its operator socket; with no server
// they say so (nothing to switch: a restart starts with degraded mode off and no bans).
//
//   guard status                                           { degraded, bans }
//   guard degrade on --reason R [--allow-key K]...         { degraded }
//   guard degrade off                                      { degraded }
//   guard bans [--limit N]                                 { bans }
//   guard unban --ip A | --key K | --user U                { lifted, scope, subject }

import type { BanRecord, DegradedModeState } from "../gateway/guard/guard-control.ts";
import { type Cli, CliError } from "./args.ts";
import { type OperatorCommand, table } from "./commands.ts";

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

function iso(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString();
}

export function degradedText(state: DegradedModeState): string {
  if (!state.on)
    return state.sinceMs === null
      ? "degraded mode: off"
      : `degraded mode: off (since ${iso(state.sinceMs)}, by ${state.actor ?? "-"})`;
  const keys = state.allowListedKeyIds.length === 0 ? "none" : state.allowListedKeyIds.join(", ");
  return [
    `degraded mode: ON since ${iso(state.sinceMs)}, by ${state.actor ?? "-"}: ${state.reason ?? "-"}`,
    "  public REST answers from cache only; new public WebSocket connections refused; cancels go on",
    `  order entry allowed for keys: ${keys}`,
  ].join("\n");
}

export function bansText(bans: readonly BanRecord[]): string {
  return table(
    bans.map((ban) => ({
      scope: ban.scope,
      subject: ban.subject,
      level: ban.level,
      since: iso(ban.sinceMs),
      until: iso(ban.untilMs),
    })),
  );
}

function limitOf(cli: Cli): number | undefined {
  const text = cli.values.limit;
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(text))
    throw new CliError("invalid", `--limit must be a whole number, got "${text.slice(0, 40)}"`);
  return Number(text);
}

function degrade(on: boolean) {
  return command({
    needs: "store",
    input: (cli) => {
      const keys = cli.values["allow-key"] ?? [];
      if (!on && keys.length > 0)
        throw new CliError("usage", "--allow-key goes with `guard degrade on` (off clears the list)");
      const reason = cli.values.reason;
      return {
        on,
        ...(reason === undefined ? {} : { reason }),
        ...(on ? { allowListedKeyIds: keys } : {}),
      };
    },
    offline: (actions, actor, input) => actions.guard.degrade(actor, input),
    remote: (client, input) => client.post<{ degraded: DegradedModeState }>("/guard/degrade", input),
    print: (result) => ({ fields: result, text: degradedText(result.degraded) }),
  });
}

/** The one subject of `guard unban`: exactly one of --ip, --key, --user. */
function unbanSubject(cli: Cli): { scope: "ip" | "key" | "user"; subject: string } {
  const ips = cli.values.ip ?? [];
  const given = [
    ...ips.map((subject) => ({ scope: "ip" as const, subject })),
    ...(cli.values.key === undefined ? [] : [{ scope: "key" as const, subject: cli.values.key }]),
    ...(cli.values.user === undefined ? [] : [{ scope: "user" as const, subject: cli.values.user }]),
  ];
  if (given.length !== 1)
    throw new CliError("usage", 'name exactly one of --ip A, --key K or --user U for "guard unban"');
  return given[0];
}

export const GUARD_COMMANDS = {
  "guard status": command({
    needs: "store",
    input: () => ({}),
    offline: async (actions) => actions.guard.status(),
    remote: (client) => client.get<{ degraded: DegradedModeState; bans: BanRecord[] }>("/guard"),
    print: (result) => ({
      fields: result,
      text: `${degradedText(result.degraded)}\nbans (${result.bans.length}):\n${bansText(result.bans)}`,
    }),
  }),
  "guard degrade on": degrade(true),
  "guard degrade off": degrade(false),
  "guard bans": command({
    needs: "store",
    input: (cli) => {
      const limit = limitOf(cli);
      return limit === undefined ? {} : { limit };
    },
    offline: async (actions, _actor, input) => actions.guard.bans(input),
    remote: (client, input) =>
      client.get<{ bans: BanRecord[] }>(
        input.limit === undefined ? "/guard/bans" : `/guard/bans?limit=${input.limit}`,
      ),
    print: (result) => ({ fields: result, text: bansText(result.bans) }),
  }),
  "guard unban": command({
    needs: "store",
    input: (cli) => unbanSubject(cli),
    offline: (actions, actor, input) => actions.guard.liftBan(actor, input),
    remote: (client, input) =>
      client.post<{ lifted: boolean; scope: string; subject: string }>("/guard/bans/lift", input),
    print: (result) => ({ fields: result, text: `lifted the ban on ${result.scope} ${result.subject}` }),
  }),
};
