// `bulwark operator add|list|disable` and `bulwark operator 2fa enable|confirm|disable` (issue 9
// §3): the operator console's accounts and their login's second factor, entries of
// commands.ts's table, through OperatorActions.consoleAdmin (src/operator/console/
// operator-accounts.ts) offline, or the operator API's /operators routes on a running server.
// `operator 2fa enable` prints the new secret once; it stays pending until `confirm` gets a code.
// The password is read from stdin or a prompt (src/cli/password.ts), never from argv.

import type { OperatorListing } from "../operator/console/operator-accounts.ts";
import { OPERATOR_ROLES } from "../operator/console/roles.ts";
import { CliError, required } from "./args.ts";
import { type OperatorCommand, table } from "./commands.ts";
import { readPassword } from "./password.ts";

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

function iso(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString();
}

export const OPERATOR_ACCOUNT_COMMANDS = {
  "operator add": command({
    needs: "store",
    async input(cli, io) {
      const email = required(cli, "email");
      const role = required(cli, "role");
      // Checked before the password is asked for; OperatorActions checks it again.
      if (!(OPERATOR_ROLES as readonly string[]).includes(role))
        throw new CliError(
          "invalid",
          `--role must be one of ${OPERATOR_ROLES.join(", ")}, got "${role.slice(0, 40)}"`,
        );
      return { email, role, password: await readPassword(io, email) };
    },
    offline: (actions, actor, input) => actions.consoleAdmin.addOperator(actor, input),
    remote: (client, input) =>
      client.post<{ operatorId: number; email: string; role: string }>("/operators", input),
    print: (operator) => ({
      fields: operator,
      text: `added operator ${operator.email} (${operator.role}); they log in at /console`,
    }),
  }),
  "operator list": command({
    needs: "store",
    input: () => ({}),
    offline: (actions) => actions.consoleAdmin.listOperators(),
    remote: (client) => client.get<{ operators: OperatorListing[] }>("/operators"),
    print: (result) => ({
      fields: result,
      text: table(
        result.operators.map(({ email, role, createdMs, disabledMs, totp }) => ({
          email,
          role,
          "2fa": totp,
          created: iso(createdMs),
          disabled: iso(disabledMs),
        })),
      ),
    }),
  }),
  "operator disable": command({
    needs: "store",
    input: (cli) => ({ email: required(cli, "email") }),
    offline: (actions, actor, input) => actions.consoleAdmin.disableOperator(actor, input),
    remote: (client, input) =>
      client.post<{ email: string; disabledMs: number; sessionsEnded: number }>("/operators/disable", input),
    print: (result) => ({
      fields: result,
      text: `disabled operator ${result.email} (${result.sessionsEnded} console session(s) ended)`,
    }),
  }),
  "operator 2fa enable": command({
    needs: "store",
    input: (cli) => ({ email: required(cli, "email") }),
    offline: (actions, actor, input) => actions.consoleAdmin.enableTotp(actor, input),
    remote: (client, input) =>
      client.post<{ email: string; secret: string; uri: string }>("/operators/2fa/enable", input),
    print: (enrolment) => ({
      fields: enrolment,
      text:
        `console 2FA pending for operator ${enrolment.email} (shown only now):\n` +
        `secret ${enrolment.secret}\n` +
        `uri    ${enrolment.uri}\n` +
        `confirm with: bulwark operator 2fa confirm --email ${enrolment.email} --code <6 digits>`,
    }),
  }),
  "operator 2fa confirm": command({
    needs: "store",
    input: (cli) => ({ email: required(cli, "email"), code: required(cli, "code") }),
    offline: (actions, actor, input) => actions.consoleAdmin.confirmTotp(actor, input),
    remote: (client, input) =>
      client.post<{ email: string; totp: "enabled" }>("/operators/2fa/confirm", input),
    print: (change) => ({
      fields: change,
      text: `console 2FA enabled for operator ${change.email}: their logins now need a code`,
    }),
  }),
  "operator 2fa disable": command({
    needs: "store",
    input: (cli) => ({ email: required(cli, "email") }),
    offline: (actions, actor, input) => actions.consoleAdmin.disableTotp(actor, input),
    remote: (client, input) =>
      client.post<{ email: string; totp: "disabled" }>("/operators/2fa/disable", input),
    print: (change) => ({
      fields: change,
      text: `console 2FA disabled for operator ${change.email}: their logins take the password only`,
    }),
  }),
};
