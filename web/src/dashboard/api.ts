// The provider's side of the API, typed: profile, services, hours, overrides, holidays,
// bookings and calendar connections. Every call goes through the shared apiJson.
import { apiJson, query } from "../shared/api";
import type {
  Appointment as SharedAppointment,
  Availability,
  BookingStatus,
  Page,
  Provider as SharedProvider,
  Service as SharedService,
} from "../shared/types";

/** A provider's own view of a service: the public fields and the ones only its owner edits. */
export interface Service extends SharedService {
  buffer_before_minutes: number;
  buffer_after_minutes: number;
  slot_interval_minutes: number;
  max_per_day: number | null;
  reminders_minutes_before: number[];
}

export type ServiceFields = Omit<Service, "id" | "provider_id" | "active">;

export interface Provider extends SharedProvider {
  services: Service[];
}

export type ProfileChange = Partial<Pick<Provider, "display_name" | "timezone" | "auto_confirm">>;

export interface Interval {
  start: string;
  end: string;
}

export const WEEKDAYS = [
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
  "sunday",
] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export type WeeklyHours = Record<Weekday, Interval[]>;

export interface Override {
  day: string;
  closed: boolean;
  intervals: Interval[];
}

export interface Holiday {
  day: string;
  name: string;
}

export interface Appointment extends SharedAppointment {
  /** Who booked (a provider's list names them). */
  customer?: { name: string; email: string } | null;
}

export interface Connection {
  id: string;
  kind: string;
  status: string;
  account: string;
  server_url: string | null;
  blocking_calendars: string[];
  destination_calendar: string | null;
  last_synced_at: string | null;
  last_error: string | null;
  broken_reason: string | null;
  created_at: string;
}

// Bookings that still need the provider or still hold their time.
export const UPCOMING_STATUSES: BookingStatus[] = [
  "awaiting_approval",
  "awaiting_payment",
  "confirmed",
];
export const PAGE_SIZE = 100;

export const myProfile = () => apiJson<Provider>("/providers/me");

export const updateProfile = (change: ProfileChange) =>
  apiJson<Provider>("/providers/me", { method: "PATCH", json: change });

export function upcomingBookings(zone: string, offset: number): Promise<Page<Appointment>> {
  const params = new URLSearchParams({
    from: new Date().toISOString(),
    timezone: zone,
    limit: String(PAGE_SIZE),
    offset: String(offset),
  });
  for (const status of UPCOMING_STATUSES) params.append("status", status);
  return apiJson<Page<Appointment>>(`/users/me/appointments?${params.toString()}`);
}

export const approve = (id: string) =>
  apiJson<Appointment>(`/appointments/${id}/approve`, { method: "POST", json: {} });

export const decline = (id: string, reason: string) =>
  apiJson<Appointment>(`/appointments/${id}/decline`, { method: "POST", json: { reason } });

export const cancel = (id: string, reason: string, zone: string) =>
  apiJson<Appointment>(`/appointments/${id}/cancel?${query({ timezone: zone })}`, {
    method: "PUT",
    json: { reason },
  });

export const reschedule = (id: string, start: string, zone: string) =>
  apiJson<Appointment>(`/appointments/${id}/reschedule`, {
    method: "POST",
    json: { start, timezone: zone },
  });

export const freeSlots = (providerId: string, serviceId: string, day: string, zone: string) =>
  apiJson<Availability>(
    `/providers/${providerId}/availability?${query({
      service_id: serviceId,
      from: day,
      to: day,
      tz: zone,
    })}`,
  );

export const workingHours = () => apiJson<WeeklyHours>("/providers/me/working-hours");

export const saveWorkingHours = (week: WeeklyHours) =>
  apiJson<WeeklyHours>("/providers/me/working-hours", { method: "PUT", json: week });

export const overrides = (from: string, to: string) =>
  apiJson<Override[]>(`/providers/me/overrides?${query({ from, to })}`);

export const saveOverride = (day: string, intervals: Interval[]) =>
  apiJson<Override>(`/providers/me/overrides/${day}`, { method: "PUT", json: { intervals } });

export const clearOverride = (day: string) =>
  apiJson<void>(`/providers/me/overrides/${day}`, { method: "DELETE" });

export const holidays = () => apiJson<Holiday[]>("/providers/me/holidays");

export const addHoliday = (day: string, name: string) =>
  apiJson<Holiday>("/providers/me/holidays", { method: "POST", json: { day, name } });

export const removeHoliday = (day: string) =>
  apiJson<void>(`/providers/me/holidays/${day}`, { method: "DELETE" });

export const createService = (fields: ServiceFields) =>
  apiJson<Service>("/providers/me/services", { method: "POST", json: fields });

export const updateService = (id: string, fields: Partial<ServiceFields> & { active?: boolean }) =>
  apiJson<Service>(`/providers/me/services/${id}`, { method: "PATCH", json: fields });

export const retireService = (id: string) =>
  apiJson<void>(`/providers/me/services/${id}`, { method: "DELETE" });

export const connections = () => apiJson<Connection[]>("/calendar/connections");

export const syncCalendars = () =>
  apiJson<{ connections: number }>("/calendar/sync/initiate", { method: "POST" });
