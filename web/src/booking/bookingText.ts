import type { Appointment, BookingStatus } from "../shared/types";

export const STATUS_LABELS: Record<BookingStatus, string> = {
  requested: "Being booked",
  rejected: "Not booked",
  awaiting_payment: "Waiting for payment",
  awaiting_approval: "Waiting for the provider's approval",
  confirmed: "Confirmed",
  completed: "Completed",
  no_show: "Missed",
  cancelled: "Cancelled",
  expired: "Expired (not paid in time)",
  payment_failed: "Payment failed",
  declined: "Declined by the provider",
  cancelling: "Being cancelled",
};

const CANCELLABLE: readonly BookingStatus[] = ["awaiting_payment", "awaiting_approval", "confirmed"];

export function canCancel(booking: Appointment): boolean {
  return CANCELLABLE.includes(booking.status);
}

export function canReschedule(booking: Appointment, now = Date.now()): boolean {
  return booking.status === "confirmed" && Date.parse(booking.start) > now;
}

// domain/cancellation.py: a customer cancelling a confirmed booking is refunded in full up to
// 24 hours before its start; anything not yet confirmed is refunded (or was never charged).
export const FULL_REFUND_NOTICE_MS = 24 * 60 * 60 * 1000;
