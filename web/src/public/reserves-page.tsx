// Placeholder until its page lands (issue 9); owned by the helper building it.
export function ReservesPage() {
  return <p className="empty">Coming in this change.</p>;
}
