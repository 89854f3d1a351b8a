// Placeholder until its page lands (issue 9); owned by the helper building it.
export function WalletPage() {
  return <p className="empty">Coming in this change.</p>;
}
