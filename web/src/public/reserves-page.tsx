import { type ChangeEvent, useEffect, useId, useState } from "react";
import { formatUnits } from "../decimal.ts";
import { Link } from "../link.tsx";
import { ApiError, privateCall, useSession } from "../session.ts";
import "./public.css";
import type { ReservesPublication, VerifyResult } from "./reserves-verify.ts";

// The Proof-of-reserves page (issue 9, docs/RESERVES.md): the published roots, each signature
// checked here; a signed-in user downloads their inclusion proof (reserves_proof) as a JSON file
// and the page verifies it at once; anyone may paste or upload a proof file to verify it. The
// checks are the CLI's own code (`bulwark reserves verify`, src/reserves/proof.ts), loaded lazily
// (./reserves-verify.ts) so the rest of the app never downloads the curve code.

/** GET /api/v1/reserves (src/gateway/http/reserves-public.ts). */
interface PublicReserves {
  publicKey: string | null;
  publications: ReservesPublication[];
}

/** Longest answer of the public list read (50 publications of a few KB). */
const MAX_LIST_BYTES = 4 * 1024 * 1024;
/** Publications drawn, whatever the server sends. */
const MAX_DRAWN = 50;

type Verifier = typeof import("./reserves-verify.ts");
let verifierModule: Promise<Verifier> | null = null;
function loadVerifier(): Promise<Verifier> {
  verifierModule ??= import("./reserves-verify.ts");
  return verifierModule;
}

async function fetchPublications(): Promise<PublicReserves> {
  const response = await fetch("/api/v1/reserves", { headers: { accept: "application/json" } });
  const text = await response.text();
  if (text.length > MAX_LIST_BYTES) throw new Error("the list of publications is too large");
  const body = JSON.parse(text) as PublicReserves & { error?: { message?: string } };
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  if (!Array.isArray(body.publications)) throw new Error("the answer is not a list of publications");
  return body;
}

function amount(units: string, scale: number): string {
  try {
    return formatUnits(BigInt(units), scale);
  } catch {
    return units;
  }
}

/** What the verifier said of one proof, with the root and key it was checked against. */
type Verdict = { result: VerifyResult; root: string; pinnedKey: string | null };

/**
 * Verifies a proof's text against the root the exchange published for its publication (the
 * public list), pinned to the exchange's key; `rootOverride` when the user was given a root.
 */
async function verifyText(text: string, list: PublicReserves | null, rootOverride: string): Promise<Verdict> {
  const verifier = await loadVerifier();
  const refuse = (reason: string): Verdict => ({
    result: { ok: false, reason },
    root: rootOverride,
    pinnedKey: null,
  });
  if (text.trim() === "") return refuse("paste a proof or choose a proof file first");
  if (text.length > verifier.MAX_PROOF_TEXT_BYTES) return refuse("this is too large to be a proof");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse("this is not JSON: not a proof file");
  }
  // Accept the CLI's `reserves proof --json` envelope as the CLI does.
  if (typeof parsed === "object" && parsed !== null && "proof" in parsed && !("format" in parsed))
    parsed = (parsed as { proof: unknown }).proof;
  const publicationId = (parsed as { publication?: { publicationId?: unknown } } | null)?.publication
    ?.publicationId;
  const listed = list?.publications.find((entry) => entry.publicationId === publicationId);
  const root = rootOverride.trim() !== "" ? rootOverride.trim() : (listed?.rootHash ?? "");
  if (root === "")
    return refuse(
      `publication ${String(publicationId)} is not in the published list: enter the root you were given`,
    );
  const pinnedKey = list?.publicKey ?? null;
  const result = verifier.verifyReservesProof(
    parsed,
    root,
    pinnedKey === null ? {} : { publicKeyHex: pinnedKey },
  );
  return { result, root, pinnedKey };
}

function VerdictView({ verdict }: { verdict: Verdict }) {
  const { result } = verdict;
  if (!result.ok)
    return (
      <div role="alert" className="verdict verdict-bad">
        <strong>✗ This proof does not verify:</strong> {result.reason}
      </div>
    );
  return (
    <output className="verdict verdict-good" data-verified="true">
      <strong>✓ Your proof verifies.</strong> Account {result.accountId} holds {result.balance} {result.asset}{" "}
      in publication {result.publicationId}, whose root is {result.rootHash}. Customer liabilities{" "}
      {result.liabilities} {result.asset}, reserves on chain {result.reserves} {result.asset}:{" "}
      {result.fullyBacked ? "fully backed" : "NOT fully backed"}. Signed by the exchange's key{" "}
      <code>{result.publicKey}</code>.
    </output>
  );
}

function saveJson(name: string, value: unknown): void {
  const blob = new Blob([`${JSON.stringify(value, null, 2)}\n`], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = name;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  // The download has its own copy once started; free the blob after this turn.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

function Publications({ list }: { list: PublicReserves }) {
  const [checks, setChecks] = useState<Map<number, string | true>>(new Map());
  useEffect(() => {
    let stopped = false;
    void loadVerifier().then((verifier) => {
      const next = new Map<number, string | true>();
      for (const publication of list.publications.slice(0, MAX_DRAWN)) {
        const checked = verifier.verifyPublication(
          publication,
          list.publicKey === null ? {} : { publicKeyHex: list.publicKey },
        );
        next.set(publication.publicationId, checked.ok ? true : checked.reason);
      }
      if (!stopped) setChecks(next);
    });
    return () => {
      stopped = true;
    };
  }, [list]);
  if (list.publications.length === 0) return <p className="empty">Nothing has been published yet.</p>;
  return (
    <div className="table-scroll">
      <table className="publications">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Asset</th>
            <th scope="col">Published</th>
            <th scope="col">Customer liabilities</th>
            <th scope="col">Reserves on chain</th>
            <th scope="col">Backed</th>
            <th scope="col">Root</th>
            <th scope="col">Signature</th>
          </tr>
        </thead>
        <tbody>
          {list.publications.slice(0, MAX_DRAWN).map((publication) => {
            const check = checks.get(publication.publicationId);
            return (
              <tr key={publication.publicationId} data-publication={publication.publicationId}>
                <td data-label="#">{publication.publicationId}</td>
                <td data-label="Asset">{publication.asset}</td>
                <td data-label="Published">{new Date(publication.createdAtMs).toLocaleString()}</td>
                <td data-label="Customer liabilities" className="num">
                  {amount(publication.liabilitiesUnits, publication.scale)}
                </td>
                <td data-label="Reserves on chain" className="num">
                  {amount(publication.reservesUnits, publication.scale)}
                </td>
                <td data-label="Backed">{publication.fullyBacked ? "yes" : "no"}</td>
                <td data-label="Root">
                  <code className="hash" title={publication.rootHash}>
                    {publication.rootHash}
                  </code>
                </td>
                <td data-label="Signature" className="signature" title={publication.signature}>
                  {check === undefined ? "…" : check === true ? "verified ✓" : `✗ ${check}`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function MyProof({ list, onProof }: { list: PublicReserves | null; onProof: (text: string) => void }) {
  const assets = [...new Set((list?.publications ?? []).map((publication) => publication.asset))].sort();
  const [asset, setAsset] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const selectId = useId();
  const chosen = asset !== "" ? asset : (assets[0] ?? "");
  const download = async () => {
    setBusy(true);
    setError(null);
    setVerdict(null);
    try {
      const proof = await privateCall<{ publication?: { publicationId?: number } }>("reserves_proof", {
        currency: chosen,
      });
      saveJson(`reserves-proof-${chosen}-${proof.publication?.publicationId ?? "latest"}.json`, proof);
      // Also into the box below, where it can be read (and checked again) as the file holds it.
      onProof(JSON.stringify(proof, null, 2));
      setVerdict(await verifyText(JSON.stringify(proof), list, ""));
    } catch (failure) {
      setError(failure instanceof ApiError || failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };
  if (assets.length === 0) return <p className="empty">No publication to prove against yet.</p>;
  return (
    <div className="my-proof">
      <div className="form-row">
        <label htmlFor={selectId}>Asset</label>
        <select id={selectId} value={chosen} onChange={(event) => setAsset(event.target.value)}>
          {assets.map((code) => (
            <option key={code} value={code}>
              {code}
            </option>
          ))}
        </select>
        <button type="button" onClick={() => void download()} disabled={busy || chosen === ""}>
          {busy ? "Downloading…" : "Download my proof"}
        </button>
      </div>
      {error !== null && (
        <p role="alert" className="error-text">
          {error}
        </p>
      )}
      {verdict !== null && <VerdictView verdict={verdict} />}
    </div>
  );
}

function VerifyFile({
  list,
  text,
  setText,
}: {
  list: PublicReserves | null;
  text: string;
  setText: (text: string) => void;
}) {
  const [root, setRoot] = useState("");
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const textId = useId();
  const fileId = useId();
  const rootId = useId();
  const onFile = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    if (file === undefined) return;
    const verifier = await loadVerifier();
    if (file.size > verifier.MAX_PROOF_TEXT_BYTES) {
      setVerdict({
        result: { ok: false, reason: "this file is too large to be a proof" },
        root,
        pinnedKey: null,
      });
      return;
    }
    setText(await file.text());
    setVerdict(null);
  };
  return (
    <form
      className="verify-file"
      onSubmit={(event) => {
        event.preventDefault();
        void verifyText(text, list, root).then(setVerdict);
      }}
    >
      <label htmlFor={fileId}>Proof file</label>
      <input
        id={fileId}
        type="file"
        accept="application/json,.json"
        onChange={(event) => void onFile(event)}
      />
      <label htmlFor={textId}>Or paste the proof (JSON)</label>
      <textarea
        id={textId}
        rows={8}
        spellCheck={false}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          setVerdict(null);
        }}
      />
      <label htmlFor={rootId}>
        Root you were given (optional: the published root of the proof's publication)
      </label>
      <input
        id={rootId}
        value={root}
        placeholder="64 hex digits"
        spellCheck={false}
        onChange={(event) => setRoot(event.target.value)}
      />
      <button type="submit">Verify</button>
      {verdict !== null && <VerdictView verdict={verdict} />}
    </form>
  );
}

export function ReservesPage() {
  const session = useSession();
  const [list, setList] = useState<PublicReserves | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [proofText, setProofText] = useState("");
  useEffect(() => {
    let stopped = false;
    fetchPublications().then(
      (next) => {
        if (!stopped) setList(next);
      },
      (failure: unknown) => {
        if (!stopped) setError(failure instanceof Error ? failure.message : String(failure));
      },
    );
    return () => {
      stopped = true;
    };
  }, []);
  return (
    <div className="public-page reserves-page">
      <h1>Proof of reserves</h1>
      <p className="muted">
        Each publication is a Merkle sum tree over every customer's balance (its root and total), next to the
        coins the exchange holds on chain, signed by the exchange's reserves key
        {list?.publicKey == null ? "" : " "}
        {list?.publicKey != null && <code className="hash">{list.publicKey}</code>}. The checks below run in
        your browser with the same code as <code>bulwark reserves verify</code>.
      </p>
      {error !== null && (
        <p role="alert" className="error-text">
          The publications could not be read: {error}
        </p>
      )}
      <section className="panel" aria-labelledby="publications-heading">
        <h2 id="publications-heading">Published roots</h2>
        {list === null ? <p className="muted">Reading…</p> : <Publications list={list} />}
      </section>
      <section className="panel" aria-labelledby="my-proof-heading">
        <h2 id="my-proof-heading">Your proof</h2>
        {session.status === "signedIn" ? (
          <MyProof list={list} onProof={setProofText} />
        ) : session.status === "anonymous" ? (
          <p className="empty">
            <Link to="/login">Log in</Link> to download your proof of inclusion and verify it here.
          </p>
        ) : (
          <p className="muted">…</p>
        )}
      </section>
      <section className="panel" aria-labelledby="verify-heading">
        <h2 id="verify-heading">Verify a proof file</h2>
        <VerifyFile list={list} text={proofText} setText={setProofText} />
      </section>
    </div>
  );
}
