// Dates, times and money as a provider reads them. Times are shown in the provider's own zone;
// a calendar date ("2026-12-07") is a plain date, interpreted in that zone by the API.
import { isoDateIn } from "../shared/time";

/** The date part of an ISO time the API gave in the zone asked for: its local date there. */
export function localDay(iso: string): string {
  return iso.slice(0, 10);
}

/** Today's date in `zone`, as "YYYY-MM-DD". */
export function todayIn(zone: string, now: Date = new Date()): string {
  return isoDateIn(now, zone);
}

/** "YYYY-MM-DD" plus `days` calendar days. */
export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** A calendar date as "Monday, 7 December 2026" (in the reader's language). */
export function dayHeading(day: string): string {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: "UTC",
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
  }).format(new Date(`${day}T12:00:00Z`));
}

/** The wall-clock time of an instant in `zone`. */
export function clock(iso: string, zone: string): string {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone,
    hour: "numeric",
    minute: "2-digit",
  }).format(new Date(iso));
}

export function timeRange(start: string, end: string | null, zone: string): string {
  return end ? `${clock(start, zone)} – ${clock(end, zone)}` : clock(start, zone);
}

export function instant(iso: string | null, zone: string): string {
  if (!iso) return "never";
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone,
    dateStyle: "medium",
    timeStyle: "short",
  }).format(new Date(iso));
}

/** How many minor units the currency's major unit has (2 for USD, 0 for JPY). */
export function minorDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
        .maximumFractionDigits ?? 2
    );
  } catch {
    return 2;
  }
}

export function money(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(
      amount / 10 ** digits,
    );
  } catch {
    return `${amount} ${currency} (minor units)`;
  }
}

/** Minor units as the major-unit text a person edits: 5000 USD -> "50.00". */
export function majorText(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  if (digits === 0) return String(amount);
  const text = String(amount).padStart(digits + 1, "0");
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

/** A typed price in major units as integer minor units, without floating point; null if it is
 * not a plain non-negative amount with at most the currency's decimals. */
export function parseMajor(text: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const match = /^(\d{1,9})(?:[.,](\d*))?$/.exec(text.trim());
  if (!match) return null;
  const fraction = match[2] ?? "";
  if (fraction.length > digits) return null;
  return Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
}

/** Minutes as "1 day", "2 h 30 min", "45 min". */
export function duration(minutes: number): string {
  if (minutes % 1440 === 0 && minutes > 0) {
    const days = minutes / 1440;
    return days === 1 ? "1 day" : `${days} days`;
  }
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours && rest) return `${hours} h ${rest} min`;
  return hours ? `${hours} h` : `${rest} min`;
}

export const STATUS_LABELS: Record<string, string> = {
  awaiting_approval: "Waiting for your approval",
  awaiting_payment: "Waiting for payment",
  confirmed: "Confirmed",
  cancelling: "Being cancelled",
  cancelled: "Cancelled",
  declined: "Declined",
  completed: "Completed",
  expired: "Expired",
  no_show: "No-show",
  payment_failed: "Payment failed",
};

/** A calendar date picked in a DayPicker (the browser's own zone) as "YYYY-MM-DD". */
export function dayOf(date: Date): string {
  const month = String(date.getMonth() + 1).padStart(2, "0");
  const day = String(date.getDate()).padStart(2, "0");
  return `${date.getFullYear()}-${month}-${day}`;
}

/** "YYYY-MM-DD" as a Date at local noon, for a DayPicker. */
export function dateOf(day: string): Date {
  const [year, month, date] = day.split("-").map(Number);
  return new Date(year ?? 1970, (month ?? 1) - 1, date ?? 1, 12);
}
