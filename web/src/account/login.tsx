// Placeholder until its page lands (issue 9).
export function LoginPage() {
  return <p className="empty">Coming in this change.</p>;
}
export function SignupPage() {
  return <p className="empty">Coming in this change.</p>;
}
