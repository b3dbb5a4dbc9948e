import { moneyLabel, whenLabel } from "../shared/time";
import type { Appointment } from "../shared/types";
import { FULL_REFUND_NOTICE_MS } from "./bookingText";

export interface RefundPreview {
  refunded: boolean;
  sentence: string;
}

/** What cancelling now gives back, by the refund policy (domain/cancellation.py). */
export function refundPreview(booking: Appointment, zone: string, now = Date.now()): RefundPreview {
  const price = booking.price;
  if (!price || price.amount === 0) {
    return { refunded: true, sentence: "This booking is free: nothing to refund." };
  }
  const amount = moneyLabel(price);
  if (booking.status === "awaiting_payment") {
    return {
      refunded: true,
      sentence: `Nothing has been charged yet: the ${amount} payment is cancelled and the time is released.`,
    };
  }
  if (booking.status !== "confirmed") {
    return { refunded: true, sentence: `You will be refunded in full: ${amount}.` };
  }
  // The booking's own deadline (a customer's move inside the window keeps the passed one);
  // the policy's 24 hours before the start until it is read.
  const deadline = booking.refund_until
    ? Date.parse(booking.refund_until)
    : Date.parse(booking.start) - FULL_REFUND_NOTICE_MS;
  if (now <= deadline) {
    return {
      refunded: true,
      sentence: `You will be refunded in full: ${amount}, if you cancel before ${whenLabel(new Date(deadline).toISOString(), zone)}.`,
    };
  }
  return {
    refunded: false,
    sentence: `The full-refund deadline (${whenLabel(new Date(deadline).toISOString(), zone)}) has passed, so cancelling now is not refunded: you keep paying ${amount}.`,
  };
}
