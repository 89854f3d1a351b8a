// A QR code drawn as SVG from the module matrix of paulmillr's `qr` (zero dependencies). The SVG is
// built by React from the matrix, not injected as markup, so no text reaches the DOM unescaped.
import encodeQR from "qr";
import { useMemo } from "react";

/** Longest text encoded: a deposit address or an otpauth:// URL is far shorter; more is a bug. */
const MAX_QR_TEXT = 512;
/** Empty modules around the code (the matrix includes them), as the QR standard asks, so scanners find its edges. */
const QUIET_ZONE_MODULES = 4;

/** One path of unit squares, one "M x y h1 v1 h-1 z" per dark module: small and crisp at any size. */
function modulesPath(matrix: boolean[][]): string {
  const parts: string[] = [];
  matrix.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) parts.push(`M${x} ${y}h1v1h-1z`);
    });
  });
  return parts.join("");
}

export function QrCode({ text, label, sizePx = 176 }: { text: string; label: string; sizePx?: number }) {
  const drawn = useMemo(() => {
    if (text.length === 0 || text.length > MAX_QR_TEXT) return null;
    const matrix = encodeQR(text, "raw", { ecc: "medium", border: QUIET_ZONE_MODULES });
    return { side: matrix.length, path: modulesPath(matrix) };
  }, [text]);
  if (drawn === null) return <p className="error">Cannot draw a QR code for this text.</p>;
  return (
    <svg
      className="qr-code"
      role="img"
      aria-label={label}
      data-qr-text={text}
      width={sizePx}
      height={sizePx}
      viewBox={`0 0 ${drawn.side} ${drawn.side}`}
      shapeRendering="crispEdges"
    >
      <rect width={drawn.side} height={drawn.side} fill="#fff" />
      <path d={drawn.path} fill="#000" />
    </svg>
  );
}
