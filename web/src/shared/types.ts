// The API's answers, as the pages read them (see /openapi.json).

export interface Money {
  amount: number;
  currency: string;
}

export interface Service {
  id: string;
  provider_id: string;
  name: string;
  duration_minutes: number;
  price: Money;
  min_notice_minutes: number;
  horizon_days: number;
  active: boolean;
}

export interface ServiceMatch extends Service {
  free_slots: number | null;
  first_free: string | null;
}

export interface Provider {
  id: string;
  display_name: string;
  timezone: string;
  auto_confirm: boolean;
  services: Service[];
}

export interface ProviderMatch {
  id: string;
  display_name: string;
  timezone: string;
  services: ServiceMatch[];
}

export interface Page<T> {
  data: T[];
  count: number;
}

export interface Slot {
  start: string;
  end: string;
}

export interface Availability {
  provider_id: string;
  service_id: string;
  timezone: string;
  from: string;
  to: string;
  slots: Slot[];
  count: number;
}

export type BookingStatus =
  | "requested"
  | "rejected"
  | "awaiting_payment"
  | "awaiting_approval"
  | "confirmed"
  | "completed"
  | "no_show"
  | "cancelled"
  | "expired"
  | "payment_failed"
  | "declined"
  | "cancelling";

export interface Payment {
  gateway: string;
  intent_id: string;
  client_secret: string | null;
  amount: number;
  currency: string;
  status: string;
}

/** GET /payments/config: how the checkout takes a payment. */
export interface PaymentConfig {
  gateway: "sandbox" | "stripe";
  publishable_key: string | null;
}

export interface Appointment {
  id: string;
  status: BookingStatus;
  provider_id: string;
  service_id: string;
  customer_id: string;
  start: string;
  end: string | null;
  price: Money | null;
  hold_expires_at: string | null;
  payment: Payment | null;
  reason: string | null;
  note: string | null;
  payment_failure: string | null;
  reschedules: number;
  /** Until when the customer's own cancel is refunded in full; only on GET /appointments/{id}. */
  refund_until?: string | null;
  timezone: string | null;
}

export interface User {
  id: string;
  email: string;
  full_name: string;
  role: string;
  provider_id: string | null;
}
