// What the pages' forms share: a labelled input, and a submit that is busy while it runs and
// keeps the sentence of what went wrong.
import { useState } from "react";
import type { FormEvent, InputHTMLAttributes, ReactNode } from "react";

interface FieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "id" | "onChange"> {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  /** Shown under the input. */
  hint?: ReactNode;
}

/** A label and its input, in the pages' `.field` box. */
export function Field({ id, label, onValue, hint, ...input }: FieldProps) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} {...input} onChange={(e) => onValue(e.target.value)} />
      {hint}
    </div>
  );
}

/**
 * A form's submit: runs `action` once the browser has accepted the form, busy meanwhile;
 * what it throws becomes `error`, as `explain` words it.
 */
export function useSubmit(action: () => Promise<void>, explain: (err: unknown) => string) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  }

  return { busy, error, setError, submit };
}

type ReasonFieldProps = Pick<FieldProps, "id" | "label" | "value" | "onValue">;

/** The optional reason given with a cancel or a decline, in the pages' `.field` box. */
export function ReasonField({ id, label, value, onValue }: ReasonFieldProps) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        maxLength={500}
        rows={2}
        value={value}
        onChange={(e) => onValue(e.target.value)}
      />
    </div>
  );
}
