// Placeholder until the console lands (issue 9).
export default function ConsoleApp({ section }: { section: string }) {
  return <p className="empty">Console section {section}: coming in this change.</p>;
}
