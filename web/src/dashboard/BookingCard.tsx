// One booking: when, what, its status, and the provider's actions on it.
import { useId, useState } from "react";

import { ReasonField } from "../shared/form";
import { type Appointment, type Service, approve, cancel, decline } from "./api";
import { STATUS_LABELS, dayHeading, localDay, money, timeRange } from "./format";
import { Reschedule } from "./Reschedule";
import { useSession } from "./session";
import { BusyButton, ErrorText } from "./ui";

type Mode = "decline" | "cancel" | "reschedule" | null;

interface Props {
  booking: Appointment;
  service: Service | undefined;
  onDone: (message: string) => void;
}

function paid(booking: Appointment): boolean {
  return booking.status !== "awaiting_payment" && (booking.price?.amount ?? 0) > 0;
}

export function BookingCard({ booking, service, onDone }: Props) {
  const { provider, explain } = useSession();
  const zone = provider.timezone;
  const [mode, setMode] = useState<Mode>(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const titleId = useId();
  const reasonId = useId();
  const when = `${dayHeading(localDay(booking.start))}, ${timeRange(booking.start, booking.end, zone)}`;
  const refund = paid(booking) ? " The customer is refunded in full." : "";

  async function act(run: () => Promise<Appointment>, say: (after: Appointment) => string) {
    setBusy(true);
    setError(null);
    try {
      const after = await run();
      onDone(say(after));
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  }

  const onApprove = () =>
    act(
      () => approve(booking.id),
      (after) =>
        after.status === "confirmed"
          ? `Approved: the booking on ${when} is confirmed.`
          : "Approved. The booking is being confirmed and the list will show it shortly.",
    );
  const onDecline = () =>
    act(
      () => decline(booking.id, reason),
      (after) =>
        after.status === "declined"
          ? `Declined: the booking on ${when} will not take place.${refund}`
          : "Declined. The booking is being undone and the list will show it shortly.",
    );
  const onCancel = () =>
    act(
      () => cancel(booking.id, reason, zone),
      (after) =>
        after.status === "cancelled"
          ? `Cancelled: the booking on ${when}.${refund}`
          : `The booking on ${when} is being cancelled.${refund}`,
    );

  const serviceName = service?.name ?? "A service no longer offered";
  return (
    <article className="card dash-booking" aria-labelledby={titleId} data-booking-id={booking.id}>
      <h3 id={titleId}>
        <span className="dash-time">{timeRange(booking.start, booking.end, zone)}</span>{" "}
        {serviceName}
      </h3>
      <p className={`dash-status dash-status-${booking.status}`}>
        {STATUS_LABELS[booking.status] ?? booking.status}
      </p>
      <p className="muted">
        {booking.customer
          ? `${booking.customer.name} <${booking.customer.email}>`
          : `Customer ${booking.customer_id.slice(0, 8)}`}
        {booking.price ? ` · ${money(booking.price.amount, booking.price.currency)}` : ""}
      </p>
      {booking.note ? <p className="muted">Note: {booking.note}</p> : null}
      <ErrorText>{error}</ErrorText>
      {mode === null ? (
        <div className="row">
          {booking.status === "awaiting_approval" ? (
            <>
              <BusyButton busy={busy} onClick={onApprove}>
                Approve
              </BusyButton>
              <button type="button" className="secondary" onClick={() => setMode("decline")}>
                Decline
              </button>
            </>
          ) : null}
          {booking.status === "confirmed" ? (
            <button type="button" className="secondary" onClick={() => setMode("reschedule")}>
              Reschedule
            </button>
          ) : null}
          {booking.status !== "awaiting_approval" ? (
            <button type="button" className="secondary" onClick={() => setMode("cancel")}>
              Cancel booking
            </button>
          ) : null}
        </div>
      ) : null}
      {mode === "decline" || mode === "cancel" ? (
        <div className="dash-confirm">
          <p>
            {mode === "decline" ? "Decline" : "Cancel"} the booking on {when}?{refund}
          </p>
          <ReasonField
            id={reasonId}
            label="Reason for the customer (optional)"
            value={reason}
            onValue={setReason}
          />
          <div className="row">
            <BusyButton
              busy={busy}
              className="danger"
              onClick={mode === "decline" ? onDecline : onCancel}
            >
              {mode === "decline" ? "Decline booking" : "Yes, cancel it"}
            </BusyButton>
            <button type="button" className="secondary" onClick={() => setMode(null)}>
              Keep it
            </button>
          </div>
        </div>
      ) : null}
      {mode === "reschedule" ? (
        <Reschedule
          booking={booking}
          service={service}
          onMoved={(message) => {
            setMode(null);
            onDone(message);
          }}
          onClose={() => setMode(null)}
        />
      ) : null}
    </article>
  );
}
