// Assets: the list and a new asset (code and ledger scale), through the operator action that audits it.
import { type FormEvent, useState } from "react";
import { type AssetListing, may, type Operator, operatorGet, operatorPost } from "./console-client.ts";
import { Field, LoadError, NotForRole, OutcomeLine, Panel, useAction, useLoad, wholeNumber } from "./ui.tsx";

/** Rows shown; an exchange lists a few dozen assets. */
const MAX_ASSETS_SHOWN = 500;
const MAX_SCALE = 18;

function AddAssetForm({ onDone }: { onDone: () => void }) {
  const [code, setCode] = useState("");
  const [scale, setScale] = useState("8");
  const [problem, setProblem] = useState<string | null>(null);
  const outcome = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const places = wholeNumber(scale);
    if (places === null || places > MAX_SCALE) {
      setProblem(`The scale is a whole number of decimal places, 0 to ${MAX_SCALE}.`);
      return;
    }
    const result = await outcome.run(
      () => operatorPost<AssetListing>("/assets", { code: code.trim().toUpperCase(), scale: places }),
      (asset) => `Asset ${asset.code} added (id ${asset.assetId}, ${asset.scale} decimals).`,
    );
    if (result !== undefined) {
      setCode("");
      onDone();
    }
  };
  return (
    <form className="console-form" onSubmit={submit} aria-label="Add an asset">
      <Field label="Code" value={code} onChange={setCode} required maxLength={16} placeholder="SOL" />
      <Field
        label="Scale (decimal places)"
        value={scale}
        onChange={setScale}
        required
        maxLength={2}
        inputMode="numeric"
      />
      <button type="submit" disabled={outcome.busy}>
        Add asset
      </button>
      {problem !== null && (
        <p className="console-error" role="alert">
          {problem}
        </p>
      )}
      <OutcomeLine outcome={outcome} />
    </form>
  );
}

export function AssetsSection({ operator }: { operator: Operator }) {
  const assets = useLoad(() => operatorGet<{ assets: AssetListing[] }>("/assets"), "assets");
  const list = (assets.data?.assets ?? []).slice(0, MAX_ASSETS_SHOWN);
  return (
    <div className="console-grid">
      <Panel title="Assets">
        <LoadError error={assets.error} />
        <table className="console-table">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Code</th>
              <th scope="col">Decimals</th>
            </tr>
          </thead>
          <tbody>
            {list.map((asset) => (
              <tr key={asset.assetId}>
                <td>{asset.assetId}</td>
                <th scope="row">{asset.code}</th>
                <td className="num">{asset.scale}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
      <Panel title="Add an asset">
        {may(operator, "POST", "/assets") ? (
          <AddAssetForm onDone={assets.reload} />
        ) : (
          <NotForRole what="add assets" />
        )}
      </Panel>
    </div>
  );
}
