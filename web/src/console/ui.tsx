// What every console section shares: loading with refresh, one action at a time with its outcome
// in words (role="alert" for refusals, role="status" for success), labelled fields.
import { type ReactNode, useCallback, useEffect, useId, useRef, useState } from "react";
import { messageOf } from "./console-client.ts";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  reload: () => void;
}

/**
 * Loads with `load` now, whenever `key` changes, on reload(), and every `refreshMs` when given
 * (a queue or a breaker changes under the operator). An answer that arrives after a newer request
 * started is dropped.
 */
export function useLoad<T>(load: () => Promise<T>, key: string, refreshMs?: number): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` and `round` are what ask for a new load.
  useEffect(() => {
    let stopped = false;
    const run = () => {
      const ticket = ++latest.current;
      loadRef.current().then(
        (value) => {
          if (stopped || ticket !== latest.current) return;
          setData(value);
          setError(null);
        },
        (failure: unknown) => {
          if (stopped || ticket !== latest.current) return;
          setError(messageOf(failure));
        },
      );
    };
    run();
    // A hidden tab does not poll; it loads again on its next refresh after it is shown.
    const refresh = () => {
      if (document.visibilityState !== "hidden") run();
    };
    const timer = refreshMs === undefined ? undefined : setInterval(refresh, refreshMs);
    return () => {
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
    };
  }, [key, round, refreshMs]);
  const reload = useCallback(() => setRound((value) => value + 1), []);
  return { data, error, reload };
}

export interface Outcome {
  busy: boolean;
  error: string | null;
  done: string | null;
  /** Runs `work`; its success message is `success(result)`; a refusal's message is shown as is. */
  run: <T>(work: () => Promise<T>, success: (result: T) => string) => Promise<T | undefined>;
  clear: () => void;
}

/** One action at a time, and what came of it. */
export function useAction(): Outcome {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const run = useCallback(async <T,>(work: () => Promise<T>, success: (result: T) => string) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const result = await work();
      setDone(success(result));
      return result;
    } catch (failure) {
      setError(messageOf(failure));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => {
    setError(null);
    setDone(null);
  }, []);
  return { busy, error, done, run, clear };
}

/** The outcome of an action: a refusal as an alert, a success as a status. */
export function OutcomeLine({ outcome }: { outcome: Pick<Outcome, "error" | "done"> }) {
  return (
    <>
      {outcome.error !== null && (
        <p className="console-error" role="alert">
          {outcome.error}
        </p>
      )}
      {outcome.done !== null && (
        <p className="console-ok" role="status">
          {outcome.done}
        </p>
      )}
    </>
  );
}

/** A load's failure (or nothing). */
export function LoadError({ error }: { error: string | null }) {
  if (error === null) return null;
  return (
    <p className="console-error" role="alert">
      {error}
    </p>
  );
}

/** A labelled input; `hint` is read with the field. */
export function Field({
  label,
  value,
  onChange,
  type = "text",
  placeholder,
  hint,
  required = false,
  maxLength = 256,
  autoComplete,
  inputMode,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  type?: "text" | "password" | "email" | "number";
  placeholder?: string;
  hint?: string;
  required?: boolean;
  maxLength?: number;
  autoComplete?: string;
  inputMode?: "text" | "decimal" | "numeric" | "email";
}) {
  const id = useId();
  return (
    <div className="console-field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={type}
        value={value}
        required={required}
        maxLength={maxLength}
        placeholder={placeholder}
        autoComplete={autoComplete}
        inputMode={inputMode}
        aria-describedby={hint === undefined ? undefined : `${id}-hint`}
        onChange={(event) => onChange(event.target.value)}
      />
      {hint !== undefined && (
        <span id={`${id}-hint`} className="muted console-hint">
          {hint}
        </span>
      )}
    </div>
  );
}

/** A labelled select. */
export function Choice({
  label,
  value,
  options,
  onChange,
}: {
  label: string;
  value: string;
  options: readonly { value: string; label: string }[];
  onChange: (value: string) => void;
}) {
  const id = useId();
  return (
    <div className="console-field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A section's panel with its heading. */
export function Panel({
  title,
  children,
  wide,
  full,
}: {
  title: string;
  children: ReactNode;
  /** Two of the three columns. */
  wide?: boolean;
  /** The whole row. */
  full?: boolean;
}) {
  const id = useId();
  const size = full === true ? " full" : wide === true ? " wide" : "";
  return (
    <section className={`console-panel${size}`} aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** Why a control is not offered: the role may not use it. */
export function NotForRole({ what }: { what: string }) {
  return <p className="muted console-hint">Your role may not {what}.</p>;
}

export function timeText(ms: number | null): string {
  if (ms === null) return "—";
  return new Date(ms).toLocaleString();
}

/** A whole number typed by the operator, or null. */
export function wholeNumber(text: string): number | null {
  const trimmed = text.trim();
  if (!/^[0-9]{1,15}$/.test(trimmed)) return null;
  return Number(trimmed);
}

/** An exact decimal typed by the operator (sent as text: never a float), optionally negative. */
export function isDecimalText(text: string, allowNegative = false): boolean {
  return (allowNegative ? /^-?[0-9]{1,30}(\.[0-9]{1,18})?$/ : /^[0-9]{1,30}(\.[0-9]{1,18})?$/).test(
    text.trim(),
  );
}

/** Middle of a long hash or address elided; the whole in the title. */
export function Short({ text, keep = 10 }: { text: string; keep?: number }) {
  if (text.length <= keep * 2 + 1) return <span className="mono">{text}</span>;
  return (
    <span className="mono" title={text}>
      {text.slice(0, keep)}…{text.slice(-keep)}
    </span>
  );
}
