// /bookings/:id — one booking: pay for it, see it confirmed, download its invite, change it.
import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { apiJson, messageOf } from "../shared/api";
import { AuthForm, useAuth } from "../shared/auth";
import { moneyLabel, timeLabel, whenLabel } from "../shared/time";
import type { Appointment } from "../shared/types";
import { BookingActions } from "./BookingActions";
import { STATUS_LABELS } from "./bookingText";
import { Checkout } from "./Checkout";
import { useProviders } from "./useProviders";
import { useReaderZone } from "./zone";

// Statuses the booking leaves on its own (a payment landing, a provider's decision).
const SETTLING = new Set(["requested", "awaiting_approval", "cancelling"]);
const POLL_MS = 3000;

export function BookingPage() {
  const { bookingId = "" } = useParams();
  const { user, loading: authLoading } = useAuth();
  const [zone, setZone] = useReaderZone();
  const [booking, setBooking] = useState<Appointment | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Paid through the checkout: the booking confirms once it has acted on the payment.
  const [paymentSent, setPaymentSent] = useState(false);
  const providers = useProviders(booking ? [booking.provider_id] : []);

  const load = useCallback(async () => {
    try {
      setBooking(
        await apiJson<Appointment>(
          `/appointments/${bookingId}?timezone=${encodeURIComponent(zone)}`,
        ),
      );
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  }, [bookingId, zone]);

  useEffect(() => {
    if (user) void load();
  }, [user, load]);

  const status = booking?.status;
  const confirming = paymentSent && status === "awaiting_payment";
  useEffect(() => {
    if (!status || !(SETTLING.has(status) || confirming)) return;
    const timer = window.setInterval(() => void load(), confirming ? POLL_MS / 3 : POLL_MS);
    return () => window.clearInterval(timer);
  }, [status, confirming, load]);

  if (authLoading) return <p aria-busy="true">Loading…</p>;
  if (!user) {
    return (
      <>
        <h1>Your booking</h1>
        <AuthForm intro="Sign in to see this booking." />
      </>
    );
  }
  if (error && !booking) {
    return (
      <>
        <h1>Your booking</h1>
        <p className="error" role="alert">
          {error}
        </p>
        <p>
          <Link to="/bookings">My bookings</Link>
        </p>
      </>
    );
  }
  if (!booking) return <p aria-busy="true">Loading…</p>;

  const provider = providers[booking.provider_id];
  const service = provider?.services.find((s) => s.id === booking.service_id);
  const shownZone = zone;
  return (
    <>
      <h1>{booking.status === "confirmed" ? "Your booking is confirmed" : "Your booking"}</h1>
      <section className="card" aria-labelledby="booking-heading">
        <h2 id="booking-heading">
          {service?.name ?? "Appointment"}
          {provider ? ` with ${provider.display_name}` : ""}
        </h2>
        <p>
          {whenLabel(booking.start, shownZone)}
          {booking.end ? ` – ${timeLabel(booking.end, shownZone)}` : ""} (
          {shownZone.replaceAll("_", " ")})
        </p>
        <p>
          Status: <strong data-testid="booking-status">{STATUS_LABELS[booking.status]}</strong>
          {booking.price ? ` · ${moneyLabel(booking.price)}` : ""}
        </p>
        {booking.status === "awaiting_approval" && (
          <p className="muted">The provider confirms each booking; this page updates by itself.</p>
        )}
        {booking.reason && booking.status !== "confirmed" && (
          <p className="muted">Reason: {booking.reason}</p>
        )}
        {booking.status === "awaiting_payment" && (
          <Checkout
            booking={booking}
            zone={shownZone}
            confirming={confirming}
            onAnswer={(read, paid) => {
              if (paid) setPaymentSent(true);
              setBooking(read);
            }}
            onRefresh={load}
          />
        )}
        <BookingActions
          booking={booking}
          provider={provider}
          zone={shownZone}
          onZoneChange={setZone}
          onChanged={setBooking}
        />
      </section>
      <p>
        <Link to="/bookings">All my bookings</Link>
      </p>
    </>
  );
}
