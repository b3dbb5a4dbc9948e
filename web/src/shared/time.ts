// Dates and times for a reader in a chosen IANA zone, with the browser's own Intl only.

export function detectedTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function supportedTimeZones(including: readonly string[] = []): string[] {
  let zones: string[] = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  const all = new Set([...zones, "UTC", ...including]);
  return [...all].sort();
}

/** The calendar date (YYYY-MM-DD) of an instant in `zone`. */
export function isoDateIn(instant: Date, zone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(instant);
  const get = (type: string) => parts.find((part) => part.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** YYYY-MM-DD as a Date at local midnight: a token for date widgets, not an instant. */
export function dateToken(iso: string): Date {
  const [year, month, day] = iso.split("-").map(Number);
  return new Date(year!, (month ?? 1) - 1, day ?? 1);
}

export function tokenToIso(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function addDays(iso: string, days: number): string {
  const date = dateToken(iso);
  date.setDate(date.getDate() + days);
  return tokenToIso(date);
}

export function monthStart(date: Date): Date {
  return new Date(date.getFullYear(), date.getMonth(), 1);
}

export function monthEnd(date: Date): Date {
  return new Date(date.getFullYear(), date.getMonth() + 1, 0);
}

const formats = new Map<string, Intl.DateTimeFormat>();

function format(zone: string, key: string, options: Intl.DateTimeFormatOptions) {
  const id = `${zone}|${key}`;
  let found = formats.get(id);
  if (!found) {
    found = new Intl.DateTimeFormat(undefined, { timeZone: zone, ...options });
    formats.set(id, found);
  }
  return found;
}

/** "3:00 PM" (or "15:00", by the reader's locale) in `zone`. */
export function timeLabel(instant: string | Date, zone: string): string {
  return format(zone, "time", { hour: "numeric", minute: "2-digit" }).format(new Date(instant));
}

/** "Friday, March 12, 2027" in `zone`. */
export function dayLabel(instant: string | Date, zone: string): string {
  return format(zone, "day", {
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
  }).format(new Date(instant));
}

/** A calendar date (YYYY-MM-DD) as "Friday, March 12, 2027", whatever the zone. */
export function isoDayLabel(iso: string): string {
  return dayLabel(`${iso}T12:00:00Z`, "UTC");
}

export function whenLabel(start: string, zone: string): string {
  return `${dayLabel(start, zone)}, ${timeLabel(start, zone)}`;
}

export function moneyLabel(money: { amount: number; currency: string } | null): string {
  if (!money || money.amount === 0) return "Free";
  const currency = new Intl.NumberFormat(undefined, { style: "currency", currency: money.currency });
  const digits = currency.resolvedOptions().maximumFractionDigits ?? 2;
  return currency.format(money.amount / 10 ** digits);
}
