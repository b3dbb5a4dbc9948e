// Small pieces every view uses: messages that screen readers hear, a labelled checkbox and a
// busy-aware button.
import type { ButtonHTMLAttributes, ReactNode } from "react";

export function ErrorText({ children }: { children: ReactNode }) {
  if (!children) return null;
  return (
    <p role="alert" className="error">
      {children}
    </p>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  if (!children) return null;
  return (
    <p role="status" className="notice">
      {children}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p role="status" className="muted">
      Loading {what}…
    </p>
  );
}

/** A checkbox and its label, in the dashboard's `.field.dash-check` box. */
export function Checkbox({
  id,
  label,
  checked,
  onChecked,
}: {
  id: string;
  label: string;
  checked: boolean;
  onChecked: (checked: boolean) => void;
}) {
  return (
    <div className="field dash-check">
      <input
        id={id}
        type="checkbox"
        checked={checked}
        onChange={(e) => onChecked(e.target.checked)}
      />
      <label htmlFor={id}>{label}</label>
    </div>
  );
}

interface BusyButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  busy: boolean;
}

/** A button that is disabled and says so while its request runs. */
export function BusyButton({ busy, disabled, children, ...rest }: BusyButtonProps) {
  return (
    <button type="button" {...rest} disabled={busy || disabled} aria-busy={busy}>
      {children}
    </button>
  );
}
