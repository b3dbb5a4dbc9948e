// A service's rules as a form: duration, price (minor units and currency), grid, buffers,
// notice, horizon, daily limit and reminder offsets.
import { type FormEvent, useId, useState } from "react";

import { Field } from "../shared/form";
import type { Service, ServiceFields } from "./api";
import { duration, majorText, minorDigits, parseMajor } from "./format";
import { BusyButton, ErrorText } from "./ui";

const CURRENCIES = Intl.supportedValuesOf("currency");

interface Draft {
  name: string;
  duration: string;
  price: string;
  currency: string;
  bufferBefore: string;
  bufferAfter: string;
  interval: string;
  notice: string;
  horizon: string;
  maxPerDay: string;
  reminders: string;
}

function draftOf(service: Service | null): Draft {
  if (!service) {
    return {
      name: "",
      duration: "30",
      price: "0.00",
      currency: "USD",
      bufferBefore: "0",
      bufferAfter: "0",
      interval: "",
      notice: "60",
      horizon: "90",
      maxPerDay: "",
      reminders: "1440, 60",
    };
  }
  return {
    name: service.name,
    duration: String(service.duration_minutes),
    price: majorText(service.price.amount, service.price.currency),
    currency: service.price.currency,
    bufferBefore: String(service.buffer_before_minutes),
    bufferAfter: String(service.buffer_after_minutes),
    interval: String(service.slot_interval_minutes),
    notice: String(service.min_notice_minutes),
    horizon: String(service.horizon_days),
    maxPerDay: service.max_per_day === null ? "" : String(service.max_per_day),
    reminders: service.reminders_minutes_before.join(", "),
  };
}

function whole(text: string, what: string, min: number, max: number): number {
  const value = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new Error(`${what} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}

/** The draft as the API's fields, or an Error whose message says what to fix. */
function fieldsOf(draft: Draft): ServiceFields {
  if (!draft.name.trim()) throw new Error("Give the service a name.");
  const amount = parseMajor(draft.price, draft.currency);
  if (amount === null) {
    const digits = minorDigits(draft.currency);
    throw new Error(
      `The price must be an amount like ${digits ? `50.${"0".repeat(digits)}` : "5000"} in ${draft.currency}.`,
    );
  }
  const reminders = draft.reminders.trim()
    ? draft.reminders.split(/[,\s]+/).filter(Boolean).map((part) => whole(part, "Each reminder", 1, 43200))
    : [];
  const minutes = whole(draft.duration, "The duration", 1, 1440);
  return {
    name: draft.name.trim(),
    duration_minutes: minutes,
    price: { amount, currency: draft.currency },
    buffer_before_minutes: whole(draft.bufferBefore, "The buffer before", 0, 1440),
    buffer_after_minutes: whole(draft.bufferAfter, "The buffer after", 0, 1440),
    slot_interval_minutes: draft.interval.trim()
      ? whole(draft.interval, "The start grid", 1, 1440)
      : minutes,
    min_notice_minutes: whole(draft.notice, "The minimum notice", 0, 86400),
    horizon_days: whole(draft.horizon, "How far ahead", 1, 730),
    max_per_day: draft.maxPerDay.trim() ? whole(draft.maxPerDay, "The daily limit", 1, 1000) : null,
    reminders_minutes_before: reminders,
  };
}

interface Props {
  service: Service | null;
  submitLabel: string;
  onSubmit: (fields: ServiceFields) => Promise<void>;
  onCancel?: () => void;
}

export function ServiceForm({ service, submitLabel, onSubmit, onCancel }: Props) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(service));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const set = (part: Partial<Draft>) => setDraft({ ...draft, ...part });

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    let fields: ServiceFields;
    try {
      fields = fieldsOf(draft);
    } catch (err) {
      setError((err as Error).message);
      return;
    }
    setBusy(true);
    try {
      await onSubmit(fields);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const number = (key: keyof Draft, label: string, hint?: string, mode: "numeric" | "text" = "numeric") => (
    <Field
      id={`${id}-${key}`}
      label={label}
      inputMode={mode}
      value={draft[key]}
      aria-describedby={hint ? `${id}-${key}-hint` : undefined}
      onValue={(value) => set({ [key]: value })}
      hint={
        hint ? (
          <small id={`${id}-${key}-hint`} className="muted">
            {hint}
          </small>
        ) : null
      }
    />
  );
  const leads = draft.reminders.split(/[,\s]+/).filter((p) => /^\d+$/.test(p)).map(Number);
  return (
    <form onSubmit={submit} className="dash-service-form">
      <Field
        id={`${id}-name`}
        label="Name"
        required
        maxLength={200}
        value={draft.name}
        onValue={(name) => set({ name })}
      />
      <div className="dash-grid">
        {number("duration", "Duration (minutes)")}
        <Field
          id={`${id}-price`}
          label="Price"
          inputMode="decimal"
          value={draft.price}
          onValue={(price) => set({ price })}
        />
        <div className="field">
          <label htmlFor={`${id}-currency`}>Currency</label>
          <select
            id={`${id}-currency`}
            value={draft.currency}
            onChange={(e) => set({ currency: e.target.value })}
          >
            {CURRENCIES.map((code) => (
              <option key={code}>{code}</option>
            ))}
          </select>
        </div>
        {number("interval", "Start grid (minutes)", "Empty: the duration.")}
        {number("bufferBefore", "Buffer before (minutes)")}
        {number("bufferAfter", "Buffer after (minutes)")}
        {number("notice", "Minimum notice (minutes)")}
        {number("horizon", "Bookable up to (days ahead)")}
        {number("maxPerDay", "Bookings per day at most", "Empty: no limit.")}
        {number(
          "reminders",
          "Reminders (minutes before the start)",
          leads.length
            ? `Customers are reminded ${leads.map(duration).join(" and ")} before.`
            : "Empty: no reminders.",
          "text",
        )}
      </div>
      <ErrorText>{error}</ErrorText>
      <div className="row">
        <BusyButton busy={busy} type="submit">
          {submitLabel}
        </BusyButton>
        {onCancel ? (
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}
