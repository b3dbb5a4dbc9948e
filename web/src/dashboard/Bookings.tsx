// Upcoming bookings by day, in the provider's zone, with what each one waits for.
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";

import { type Appointment, PAGE_SIZE, upcomingBookings } from "./api";
import { BookingCard } from "./BookingCard";
import { dayHeading, localDay } from "./format";
import { useSession } from "./session";
import { BusyButton, ErrorText, Loading, Notice } from "./ui";

function byDay(bookings: Appointment[]): [string, Appointment[]][] {
  const days = new Map<string, Appointment[]>();
  for (const booking of bookings) {
    const day = localDay(booking.start);
    days.set(day, [...(days.get(day) ?? []), booking]);
  }
  return [...days.entries()];
}

export function Bookings() {
  const { provider, explain } = useSession();
  const zone = provider.timezone;
  const [bookings, setBookings] = useState<Appointment[] | null>(null);
  const [count, setCount] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [round, setRound] = useState(0);

  useEffect(() => {
    let current = true;
    setBusy(true);
    upcomingBookings(zone, 0)
      .then((page) => {
        if (!current) return;
        setBookings(page.data);
        setCount(page.count);
        setError(null);
      })
      .catch((err: unknown) => current && setError(explain(err)))
      .finally(() => current && setBusy(false));
    return () => {
      current = false;
    };
  }, [zone, round, explain]);

  async function more() {
    if (!bookings) return;
    setBusy(true);
    try {
      const page = await upcomingBookings(zone, bookings.length);
      setBookings([...bookings, ...page.data]);
      setCount(page.count);
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  }

  function done(message: string) {
    setNotice(message);
    setRound((r) => r + 1);
  }

  const services = new Map(provider.services.map((s) => [s.id, s]));
  const waiting = bookings?.filter((b) => b.status === "awaiting_approval").length ?? 0;
  return (
    <section aria-labelledby="bookings-title">
      <h1 id="bookings-title">Upcoming bookings</h1>
      <p className="muted">
        Times in your time zone, <strong>{zone}</strong>.{" "}
        {provider.auto_confirm
          ? "Bookings confirm without your approval."
          : "New bookings wait for your approval."}{" "}
        <Link to="/services">Change the approval setting</Link>
      </p>
      <Notice>{notice}</Notice>
      <ErrorText>{error}</ErrorText>
      {bookings === null ? (
        error ? null : <Loading what="your bookings" />
      ) : bookings.length === 0 ? (
        <p className="card">No upcoming bookings.</p>
      ) : (
        <>
          {waiting > 0 ? (
            <p className="dash-waiting">
              {waiting === 1 ? "1 booking waits" : `${waiting} bookings wait`} for your approval.
            </p>
          ) : null}
          {byDay(bookings).map(([day, ofDay]) => (
            <section key={day} className="dash-day" aria-labelledby={`day-${day}`}>
              <h2 id={`day-${day}`}>{dayHeading(day)}</h2>
              <ul className="dash-list">
                {ofDay.map((booking) => (
                  <li key={booking.id}>
                    <BookingCard
                      booking={booking}
                      service={services.get(booking.service_id)}
                      onDone={done}
                    />
                  </li>
                ))}
              </ul>
            </section>
          ))}
          {bookings.length < count ? (
            <BusyButton busy={busy} className="secondary" onClick={more}>
              Show {Math.min(PAGE_SIZE, count - bookings.length)} more
            </BusyButton>
          ) : null}
        </>
      )}
    </section>
  );
}
