// /bookings — my bookings, soonest first: pay, cancel, reschedule, download invites.
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router-dom";

import { apiJson, messageOf, query } from "../shared/api";
import { AuthForm, useAuth } from "../shared/auth";
import { moneyLabel, timeLabel, whenLabel } from "../shared/time";
import type { Appointment, Page } from "../shared/types";
import { BookingActions } from "./BookingActions";
import { STATUS_LABELS } from "./bookingText";
import { TimeZoneSelect } from "./TimeZoneSelect";
import { useProviders } from "./useProviders";
import { useReaderZone } from "./zone";

export function MyBookings() {
  const { user, loading: authLoading } = useAuth();
  const [zone, setZone] = useReaderZone();
  const [bookings, setBookings] = useState<Appointment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const providers = useProviders(bookings?.map((b) => b.provider_id) ?? []);

  const load = useCallback(async () => {
    try {
      const page = await apiJson<Page<Appointment>>(
        `/users/me/appointments?${query({ timezone: zone, limit: 100 })}`,
      );
      setBookings(page.data);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  }, [zone]);

  useEffect(() => {
    if (user) void load();
  }, [user, load]);

  const replace = useCallback((changed: Appointment) => {
    setBookings((old) => old?.map((b) => (b.id === changed.id ? changed : b)) ?? null);
  }, []);

  if (authLoading) return <p aria-busy="true">Loading…</p>;
  if (!user) {
    return (
      <>
        <h1>My bookings</h1>
        <AuthForm intro="Sign in to see your bookings." />
      </>
    );
  }
  return (
    <>
      <h1>My bookings</h1>
      <TimeZoneSelect id="bookings-zone" value={zone} onChange={setZone} />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {bookings === null && !error && <p aria-busy="true">Loading…</p>}
      {bookings?.length === 0 && (
        <p>
          No bookings yet. <Link to="/">Book an appointment</Link>
        </p>
      )}
      <ul className="booking-list">
        {bookings?.map((booking) => {
          const provider = providers[booking.provider_id];
          const service = provider?.services.find((s) => s.id === booking.service_id);
          return (
            <li key={booking.id} className="card" data-booking-id={booking.id}>
              <h2>
                <Link to={`/bookings/${booking.id}`}>
                  {service?.name ?? "Appointment"}
                  {provider ? ` with ${provider.display_name}` : ""}
                </Link>
              </h2>
              <p>
                {whenLabel(booking.start, zone)}
                {booking.end ? ` – ${timeLabel(booking.end, zone)}` : ""}
                <br />
                <span data-testid="booking-status">{STATUS_LABELS[booking.status]}</span>
                {booking.price ? ` · ${moneyLabel(booking.price)}` : ""}
              </p>
              {booking.status === "awaiting_payment" && (
                <p>
                  <Link to={`/bookings/${booking.id}`}>Pay now</Link>
                </p>
              )}
              <BookingActions
                booking={booking}
                provider={provider}
                zone={zone}
                onZoneChange={setZone}
                onChanged={replace}
                zoneShown
              />
            </li>
          );
        })}
      </ul>
    </>
  );
}
