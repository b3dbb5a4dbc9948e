// /book/:providerId — choose a service, a day and a time, sign in, book; then pay.
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";

import { ApiError, apiJson, messageOf } from "../shared/api";
import { AuthForm, useAuth } from "../shared/auth";
import { moneyLabel, timeLabel, whenLabel } from "../shared/time";
import type { Appointment, Provider, Slot } from "../shared/types";
import { SlotPicker } from "./SlotPicker";
import { useReaderZone } from "./zone";

const TAKEN = "Sorry, that time was just taken by someone else. The free times below are up to date: please pick another.";

export function BookPage() {
  const { providerId = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const { user, loading: authLoading } = useAuth();
  const [zone, setZone] = useReaderZone();
  const [provider, setProvider] = useState<Provider | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [selected, setSelected] = useState<Slot | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [reloadSignal, setReloadSignal] = useState(0);
  // One key per attempt at one slot: a retry after a lost answer never books twice.
  const attempt = useRef<{ start: string; key: string } | null>(null);

  useEffect(() => {
    setProvider(null);
    setLoadError(null);
    apiJson<Provider>(`/providers/${providerId}`)
      .then(setProvider)
      .catch((err: unknown) => setLoadError(messageOf(err)));
  }, [providerId]);

  const services = provider?.services.filter((s) => s.active) ?? [];
  const serviceId = params.get("service") ?? services[0]?.id;
  const service = services.find((s) => s.id === serviceId);

  const select = useCallback((slot: Slot | null) => {
    setSelected(slot);
    setError(null);
    if (slot) setNotice(null);
  }, []);
  const taken = useCallback(() => setNotice(TAKEN), []);

  async function book() {
    if (!selected || !service) return;
    setBusy(true);
    setError(null);
    if (attempt.current?.start !== selected.start) {
      attempt.current = { start: selected.start, key: crypto.randomUUID() };
    }
    try {
      const booking = await apiJson<Appointment>("/appointments", {
        json: { service_id: service.id, start: selected.start, timezone: zone },
        headers: { "Idempotency-Key": attempt.current.key },
      });
      navigate(`/bookings/${booking.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.code === "slot_unavailable") {
        setSelected(null);
        setNotice(TAKEN);
        setReloadSignal((n) => n + 1);
      } else {
        setError(messageOf(err));
      }
    } finally {
      setBusy(false);
    }
  }

  if (loadError) {
    return (
      <>
        <h1>Book an appointment</h1>
        <p className="error" role="alert">
          {loadError}
        </p>
        <p>
          <Link to="/">Find a provider</Link>
        </p>
      </>
    );
  }
  if (!provider) return <p aria-busy="true">Loading…</p>;

  return (
    <>
      <h1>Book with {provider.display_name}</h1>
      {services.length === 0 ? (
        <p className="muted">This provider offers no services to book right now.</p>
      ) : (
        <div className="card">
          <div className="field">
            <label htmlFor="service">Service</label>
            <select
              id="service"
              value={service?.id ?? ""}
              onChange={(e) => {
                setParams({ service: e.target.value }, { replace: true });
                select(null);
              }}
            >
              {services.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name} · {s.duration_minutes} min · {moneyLabel(s.price)}
                </option>
              ))}
            </select>
          </div>
          {service && (
            <SlotPicker
              key={service.id}
              providerId={provider.id}
              serviceId={service.id}
              horizonDays={service.horizon_days}
              zone={zone}
              onZoneChange={setZone}
              selected={selected}
              onSelect={select}
              onSelectedTaken={taken}
              reloadSignal={reloadSignal}
              initialDay={params.get("date")}
            />
          )}
        </div>
      )}
      {notice && (
        <p className="error" role="alert" data-testid="taken-notice">
          {notice}
        </p>
      )}
      {selected && service && (
        <section className="card summary" aria-labelledby="summary-heading">
          <h2 id="summary-heading">Your booking</h2>
          <p>
            <strong>{service.name}</strong> with {provider.display_name}
            <br />
            {whenLabel(selected.start, zone)} – {timeLabel(selected.end, zone)} (
            {zone.replaceAll("_", " ")})
            <br />
            {moneyLabel(service.price)}
          </p>
          {authLoading ? null : user ? (
            <>
              {error && (
                <p className="error" role="alert">
                  {error}
                </p>
              )}
              <button type="button" onClick={book} disabled={busy}>
                {busy ? "Booking…" : "Book this time"}
              </button>
            </>
          ) : (
            <AuthForm intro="Sign in or create an account to book this time." />
          )}
        </section>
      )}
    </>
  );
}
