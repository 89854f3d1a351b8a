import { useEffect, useState } from "react";
import { type Notice, publicFeed } from "./api.ts";

/** The incident notice (docs/INCIDENTS.md#notices), shown on every page as it arrives. */
export function NoticeBanner() {
  const [notice, setNotice] = useState<Notice | null>(null);
  useEffect(() => publicFeed().onNotice(setNotice), []);
  if (notice === null) return null;
  return (
    <div className="banner" role="alert">
      <strong>{notice.kind === "" ? "Notice" : notice.kind}</strong>
      {notice.chain === null ? "" : ` (${notice.chain})`}: {notice.message}{" "}
      <span className="muted">{new Date(notice.at).toLocaleTimeString()}</span>
      <button type="button" onClick={() => setNotice(null)} aria-label="Dismiss notice">
        ×
      </button>
    </div>
  );
}
