// The command line: options, usage text, and the errors every command reports with a kind.
// Loaded by every `bulwark` invocation, so it imports nothing but node built-ins.

import { resolve } from "node:path";
import { parseArgs } from "node:util";

export const USAGE = `usage: bulwark <command> [options] [--data-dir DIR] [--json]

  start [--port N] [--host H] [--tls-cert FILE --tls-key FILE] [--no-demo] [--operator-listen HOST:PORT]
        [--no-devnet] [--devnet-block-ms MS] [--webhook URL]...
        run the exchange: EXMO REST/WS API (default 127.0.0.1:8080, or BULWARK_PORT), operator API
        on <data-dir>/operator.sock (and on HOST:PORT with the operator token when asked), demo
        trader and market maker unless --no-demo, devnet chains (a block every 10000 ms; 0: only
        on demand) unless --no-devnet; alerts (incidents, notices, the audit head) to each --webhook
        (else <data-dir>/webhooks.json), signed with BULWARK_WEBHOOK_SECRET or <data-dir>/webhook-secret;
        Ctrl-C stops cleanly
  start --role core|gateway|projector|custody   cluster mode (docs/cluster.md), settings from the
        environment (BULWARK_NATS_URL, BULWARK_CLUSTER_NAME; gateway, projector and custody also
        BULWARK_DATABASE_URL; gateway BULWARK_PORT, BULWARK_SECRET_KEY_FILE, BULWARK_REDIS_URL;
        core BULWARK_CORE_ID, BULWARK_LEASE_TTL_MS; custody BULWARK_DATA_DIR (else --data-dir),
        BULWARK_CHAINS, BULWARK_DEVNET_BLOCK_MS, BULWARK_SIGNER_PASSPHRASE): core = a standby
        following the journal stream until it holds the lease, then the primary; custody = the
        devnet chains, their signer processes and custody; --role all (the default) is the
        embedded exchange above
  cluster migrate              moves a STOPPED data dir into an EMPTY cluster (docs/cluster.md): the
        journal into the stream (BULWARK_NATS_URL, BULWARK_CLUSTER_NAME), checked by state hash;
        the store's rows the journal cannot rebuild (users, keys, sessions, operators, custody,
        incidents, audit log) into PostgreSQL (BULWARK_DATABASE_URL, BULWARK_PG_SCHEMA); prints a
        JSON summary. Refuses a journal not starting at 1, a non-empty stream or schema
  cluster chain-info           after the projector role caught up: custody's withdrawal columns
        (destination, txid, confirmations, reason) from the data dir into PostgreSQL
  verify                       recover, check every invariant, print last sequence and state hash
  user create --email E        the password is read from stdin (one line) or typed at a prompt
  user freeze|unfreeze --email E
  key create --email E --scopes info,trade[,withdraw] [--ip CIDR]...   prints key and secret
  key revoke --key K
  balance adjust --email E --asset A --amount X --reason R   debit: --amount=-X
  asset add --code C --scale N
  asset list
  market add --base B --quote Q --tick T --lot L --min-price P --max-price P --min-qty Q
             --max-qty Q --min-notional N --max-notional N --maker-fee PCT --taker-fee PCT
  market list
  market suspend|resume --symbol S
  devnet status                height, tip, mempool and block interval of each devnet chain
  devnet mine --chain btc|eth [--blocks N]                       N = 1..1000 (default 1)
  devnet faucet --chain C --address A --asset X --amount Y       an outside payment, in the next block
  devnet reorg --chain C --depth N                               replace the last N (1..100) blocks
  user 2fa enable --email E    new pending TOTP secret: prints the secret and otpauth:// URI once
  user 2fa confirm --email E --code C   enables it with a first code (withdrawals locked 24 h)
  user 2fa verify --email E --code C    checks a code (each code works once)
  user 2fa disable --email E
  address add --email E --currency C --address A [--label L]   usable after the activation delay
  address list --email E
  address activate --email E --currency C --address A --reason R   usable now
  address remove --email E --currency C --address A [--reason R]
  devnet steal --chain btc|eth --amount X [--asset A] [--to ADDRESS]
        theft drill: spends from the hot wallet with the hot key from <data-dir>/signers/
        (passphrase: BULWARK_SIGNER_PASSPHRASE or <data-dir>/signers/demo-passphrase), behind
        custody's back; default destination a fresh address
  custody status [--chain C]   wallets, signers, balances, each chain's breaker and last reconciliation
  custody reconciliations --chain C [--limit N]   the chain's last reconciliations, newest first (default 20)
  custody sweeps [--chain C] [--limit N]   deposit → hot, hot → cold, gas top-ups, rotations; newest first (default 50, at most 200)
  breaker status               each chain's breaker: closed or tripped (cause, when, by whom, incident)
  breaker trip --chain C|--all --reason R [--incident N]
        stops the chain (or every chain): signer halted, withdrawals, sweeps and refills paused;
        deposits are still credited and trading goes on; opens an incident (or joins incident N)
  breaker resume --chain C --reason R [--approver NAME]...
        closes a tripped breaker (the signer resumes); in production mode two distinct --approver
  withdrawal list [--email E] [--step S] [--limit N]     newest first (default 100)
  withdrawal request --email E --currency C --amount X --address A --code TOTP
        the user's own withdrawal, proved by their 2FA code, through every check of withdraw_crypt
  withdrawal approve --id N
  withdrawal reject --id N --reason R
  wallet init --chain devnet-btc|devnet-eth
        creates the chain signer's hot keystore (passphrase: BULWARK_SIGNER_PASSPHRASE or a prompt)
        and writes its public keys for custody; offline only
  wallet rotate --chain devnet-btc|devnet-eth [--incident N]
        a new wallet generation (fresh seed, new hot keys and deposit account): new deposit
        addresses from the next request, old ones still watched, credited and swept; the old hot
        wallet's coins move to the new one through signed transfers; users get a notice
  cold set-address --chain C --address A       the chain's cold address (from the next start)
  cold refill --chain C --currency X --amount Y --reason R [--as NAME]   cold → hot, needs approvals
  cold list [--chain C]
  cold approve --id N [--as NAME]              M distinct approvers (never the requester)
  cold export --id N --out FILE [--as NAME]    the unsigned payload, after approval and time lock
  cold import --id N --in FILE [--as NAME]     the signed transaction from the offline machine
  cold broadcast --id N [--as NAME]            then custody records it once confirmed
  cold cancel --id N --reason R [--as NAME]    before broadcast
  cold keygen --chain C --out DIR              offline machine: a cold keystore in DIR (not the
        data dir; passphrase: BULWARK_COLD_PASSPHRASE or a prompt); prints the cold address
  cold sign --chain C --keystore DIR --in FILE --out FILE [--to HOT_ADDRESS]
        offline machine: checks the exported payload and signs it with the cold key
  incident list [--all] [--limit N]   open incidents (every one with --all), newest first
  incident show --id N               the incident and its whole timeline
  incident note --id N --message M   posts an update: WebSocket clients, the status page, webhooks
  incident resolve --id N --reason R
  incident export --id N [--out DIR] the timeline from the audit log: DIR/incident-N.md and .json
  incident cover --id N --asset A --amount X [--from insurance|equity]
        writes coins stolen from the hot wallet off the books (hot → incident losses), covered from
        the insurance fund (default) or operator equity; no user balance changes; once per incident
        and asset; then publishes reserves for A
  insurance fund --asset A --amount X [--wallet cold|hot] [--txid T]
        the operator's own coins sent to an exchange wallet become the insurance fund
  insurance status             the fund and the losses covered, per asset
  reserves publish [--asset A] a signed Merkle sum tree of customer liabilities per asset, next to
        the coins at every exchange address
  reserves list [--limit N]    publications, newest first (default 20)
  reserves proof --user ID|--email E --asset A   a user's inclusion proof (what reserves_proof returns)
  reserves verify --proof FILE --root ROOT [--key PUBLIC_KEY]
        checks a proof offline (no data dir, no server); exits 1 with the reason when it fails
  guard status                 the flood guard: degraded mode (reason, allow-list) and active bans
  guard degrade on --reason R [--allow-key K]...
        degraded mode (during an attack): public REST from cache only, new public WebSocket
        connections refused, order entry only for the --allow-key API keys; cancels go on; the
        reason is shown on the public status page
  guard degrade off
  guard bans [--limit N]       active rate-limit bans, newest first (default 100)
  guard unban --ip A|--key K|--user U   lifts a ban and forgets the offender's history
        (the guard lives in the server's memory: these need a running server)
  audit verify                 walk the hash-chained audit log
  operator add --email E --role admin|support|security|auditor
        an operator console account (log in at /console); the password is read from stdin (one
        line) or typed at a prompt
  operator list                console operators, their roles, when added and disabled
  operator disable --email E   no more console logins; their console sessions end at once
  operator 2fa enable --email E   console 2FA: prints a new TOTP secret and otpauth:// URI once (pending)
  operator 2fa confirm --email E --code C   enables it with a first code; console logins then need one
  operator 2fa disable --email E
  operator-token rotate        new operator API token (old one stops working at next start)
  help

While a server runs on the data dir, every command goes through its operator socket (same output).`;

export const OPTIONS = {
  "data-dir": { type: "string", default: "data" },
  json: { type: "boolean", default: false },
  port: { type: "string" },
  host: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "no-demo": { type: "boolean", default: false },
  "operator-listen": { type: "string" },
  "no-devnet": { type: "boolean", default: false },
  "devnet-block-ms": { type: "string" },
  chain: { type: "string" },
  blocks: { type: "string" },
  address: { type: "string" },
  depth: { type: "string" },
  email: { type: "string" },
  /** Refused with an explanation: argv is visible in `ps` and shell history. */
  password: { type: "string" },
  scopes: { type: "string" },
  ip: { type: "string", multiple: true },
  key: { type: "string" },
  asset: { type: "string" },
  amount: { type: "string" },
  reason: { type: "string" },
  code: { type: "string" },
  scale: { type: "string" },
  symbol: { type: "string" },
  base: { type: "string" },
  quote: { type: "string" },
  tick: { type: "string" },
  lot: { type: "string" },
  "min-price": { type: "string" },
  "max-price": { type: "string" },
  "min-qty": { type: "string" },
  "max-qty": { type: "string" },
  "min-notional": { type: "string" },
  "max-notional": { type: "string" },
  "maker-fee": { type: "string" },
  "taker-fee": { type: "string" },
  // 2FA, address book, theft drill, custody (src/cli/security.ts, steal.ts, custody.ts)
  currency: { type: "string" },
  label: { type: "string" },
  to: { type: "string" },
  id: { type: "string" },
  step: { type: "string" },
  limit: { type: "string" },
  // the cold wallet (src/cli/cold.ts)
  in: { type: "string" },
  out: { type: "string" },
  keystore: { type: "string" },
  as: { type: "string" },
  // incidents (src/cli/incident.ts) and the webhooks of `start`
  message: { type: "string" },
  all: { type: "boolean", default: false },
  webhook: { type: "string", multiple: true },
  // wallet rotate (src/cli/wallet.ts), breaker trip (src/cli/breaker.ts)
  incident: { type: "string" },
  // breaker resume: who approves (two distinct in production mode)
  approver: { type: "string", multiple: true },
  // Loss cover, the insurance fund, proof of reserves (cover.ts, reserves.ts).
  from: { type: "string" },
  wallet: { type: "string" },
  txid: { type: "string" },
  user: { type: "string" },
  proof: { type: "string" },
  root: { type: "string" },
  // operator add (src/cli/operator.ts); start: the cluster role (docs/cluster.md), default all
  role: { type: "string" },
  // guard degrade on (src/cli/guard.ts): API keys whose order entry goes on while degraded
  "allow-key": { type: "string", multiple: true },
} as const;

export type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>["values"];

export interface Cli {
  command: string;
  dataDir: string;
  json: boolean;
  values: Values;
}

/** The error kinds of `--json` output and of README's CLI reference. */
export type CliErrorKind = "usage" | "invalid" | "notFound" | "conflict" | "rejected" | "busy" | "failed";

/** A refusal with its kind; usage mistakes exit with 2, every other kind with 1. */
export class CliError extends Error {
  constructor(
    readonly kind: CliErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export function usageError(message: string): CliError {
  return new CliError("usage", message);
}

export function parseCli(argv: readonly string[]): Cli {
  let parsed: { positionals: string[]; values: Values };
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
  const { positionals, values } = parsed;
  // Commands are two words, or three for a group within a noun (`user 2fa enable`,
  // `operator 2fa enable`, and `guard degrade on|off`).
  const most =
    ((positionals[0] === "user" || positionals[0] === "operator") && positionals[1] === "2fa") ||
    (positionals[0] === "guard" && positionals[1] === "degrade")
      ? 3
      : 2;
  if (positionals.length > most)
    throw usageError(`unexpected arguments: ${positionals.slice(most).join(" ")}`);
  if (values.password !== undefined)
    throw usageError(
      "--password is not accepted: a command line is visible in `ps` and shell history. Pipe the " +
        "password on stdin (one line), or leave stdin a terminal and type it at the prompt",
    );
  return {
    command: positionals.join(" ") || "help",
    dataDir: resolve(values["data-dir"]),
    json: values.json,
    values,
  };
}

export function required(cli: Cli, name: keyof Values): string {
  const value = cli.values[name];
  if (typeof value !== "string" || value === "")
    throw usageError(`--${name} is required for "${cli.command}"`);
  return value;
}
