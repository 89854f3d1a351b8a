// `bulwark user 2fa …` and `bulwark address …`: a user's second factor and withdrawal address book,
// as the operator sets them up or fixes them for a user (OperatorActions does the checks and the
// audit, offline and through the operator API alike). Entries of the table in commands.ts.

import type { AddressBookListing, OperatorActions, TotpChange, TotpEnrolment } from "../operator/actions.ts";
import { type Cli, required } from "./args.ts";
import { type OperatorCommand, table } from "./commands.ts";

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

/** A flag that may be absent (undefined) but not given empty. */
function optional(cli: Cli, name: "label" | "reason"): string | undefined {
  const value = cli.values[name];
  return value === undefined ? undefined : String(value);
}

function lockText(change: TotpChange): string {
  return change.withdrawalsLockedUntil === null
    ? ""
    : `; withdrawals locked until ${change.withdrawalsLockedUntil}`;
}

function addressText(entry: AddressBookListing): string {
  const when = entry.active ? "active now" : `active from ${entry.activeFrom}`;
  const label = entry.label === "" ? "" : ` "${entry.label}"`;
  return `${entry.currency} ${entry.address}${label} (${entry.chain ?? "chain unknown"}) for user ${entry.userId}: ${when}`;
}

export const SECURITY_COMMANDS = {
  "user 2fa enable": command({
    needs: "store",
    input: (cli) => ({ email: required(cli, "email") }),
    offline: (actions, actor, input) => actions.enableTotp(actor, input),
    remote: (client, input) => client.post<TotpEnrolment>("/2fa/enable", input),
    print: (enrolment) => ({
      fields: enrolment,
      text:
        `2FA pending for user ${enrolment.userId} ${enrolment.email} (shown only now):\n` +
        `secret ${enrolment.secret}\n` +
        `uri    ${enrolment.uri}\n` +
        `confirm with: bulwark user 2fa confirm --email ${enrolment.email} --code <6 digits>`,
    }),
  }),
  "user 2fa confirm": command({
    needs: "store",
    input: (cli) => ({ email: required(cli, "email"), code: required(cli, "code") }),
    offline: (actions, actor, input) => actions.confirmTotp(actor, input),
    remote: (client, input) => client.post<TotpChange>("/2fa/confirm", input),
    print: (change) => ({
      fields: change,
      text: `2FA enabled for user ${change.userId} ${change.email}${lockText(change)}`,
    }),
  }),
  "user 2fa verify": command({
    needs: "store",
    input: (cli) => ({ email: required(cli, "email"), code: required(cli, "code") }),
    offline: (actions, actor, input) => actions.verifyTotp(actor, input),
    remote: (client, input) =>
      client.post<Awaited<ReturnType<OperatorActions["verifyTotp"]>>>("/2fa/verify", input),
    print: (result) => ({
      fields: result,
      text: `code ok for user ${result.userId} ${result.email} (it cannot be used again)`,
    }),
  }),
  "user 2fa disable": command({
    needs: "store",
    input: (cli) => ({ email: required(cli, "email") }),
    offline: (actions, actor, input) => actions.disableTotp(actor, input),
    remote: (client, input) => client.post<TotpChange>("/2fa/disable", input),
    print: (change) => ({
      fields: change,
      text: `2FA disabled for user ${change.userId} ${change.email}${lockText(change)}`,
    }),
  }),
  // The currency's chain checks the address: the devnet chains are opened offline for that.
  "address add": command({
    needs: "devnet",
    input: (cli) => ({
      email: required(cli, "email"),
      currency: required(cli, "currency"),
      address: required(cli, "address"),
      label: optional(cli, "label"),
    }),
    offline: (actions, actor, input) => actions.addAddress(actor, input),
    remote: (client, input) => client.post<AddressBookListing>("/addresses", input),
    print: (entry) => ({ fields: entry, text: `added ${addressText(entry)}` }),
  }),
  "address list": command({
    needs: "devnet",
    input: (cli) => ({ email: required(cli, "email") }),
    offline: (actions, _actor, input) => actions.listAddresses(input),
    remote: (client, input) =>
      client.get<{ addresses: AddressBookListing[] }>(`/addresses?email=${encodeURIComponent(input.email)}`),
    print: (result) => ({
      fields: result,
      text: table(
        result.addresses.map(({ currency, address, label, active, activeFrom, activatedBy }) => ({
          currency,
          address,
          label,
          active,
          activeFrom,
          activatedBy: activatedBy ?? "",
        })),
      ),
    }),
  }),
  "address activate": command({
    needs: "devnet",
    input: (cli) => ({
      email: required(cli, "email"),
      currency: required(cli, "currency"),
      address: required(cli, "address"),
      reason: required(cli, "reason"),
    }),
    offline: (actions, actor, input) => actions.activateAddress(actor, input),
    remote: (client, input) => client.post<AddressBookListing>("/addresses/activate", input),
    print: (entry) => ({ fields: entry, text: `activated ${addressText(entry)}` }),
  }),
  "address remove": command({
    needs: "devnet",
    input: (cli) => ({
      email: required(cli, "email"),
      currency: required(cli, "currency"),
      address: required(cli, "address"),
      reason: optional(cli, "reason"),
    }),
    offline: (actions, actor, input) => actions.removeAddress(actor, input),
    remote: (client, input) =>
      client.post<Awaited<ReturnType<OperatorActions["removeAddress"]>>>("/addresses/remove", input),
    print: (result) => ({
      fields: result,
      text: `removed ${result.currency} ${result.address} from user ${result.userId}'s address book`,
    }),
  }),
};
