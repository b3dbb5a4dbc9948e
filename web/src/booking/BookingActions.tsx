// Cancel (with the refund the policy gives, before confirming) and reschedule one booking.
import { useCallback, useState } from "react";

import { ApiError, apiJson, messageOf } from "../shared/api";
import { ReasonField } from "../shared/form";
import { timeLabel, whenLabel } from "../shared/time";
import type { Appointment, Provider, Slot } from "../shared/types";
import { canCancel, canReschedule } from "./bookingText";
import { downloadInvite } from "./download";
import { refundPreview } from "./refund";
import { SlotPicker } from "./SlotPicker";

type Panel = "none" | "cancel" | "reschedule";

export function BookingActions({
  booking,
  provider,
  zone,
  onZoneChange,
  onChanged,
  zoneShown = false,
}: {
  /** The page shows its own zone select already. */
  zoneShown?: boolean;
  booking: Appointment;
  provider: Provider | undefined;
  zone: string;
  onZoneChange(zone: string): void;
  onChanged(booking: Appointment): void;
}) {
  const [panel, setPanel] = useState<Panel>("none");
  const [reason, setReason] = useState("");
  const [slot, setSlot] = useState<Slot | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [reloadSignal, setReloadSignal] = useState(0);
  // The booking as the workflow has it (the list is read from the database): its refund deadline.
  const [current, setCurrent] = useState<Appointment | null>(null);
  const service = provider?.services.find((s) => s.id === booking.service_id);
  const headingId = `actions-${booking.id}`;

  const chooseSlot = useCallback((next: Slot | null) => {
    setSlot(next);
    setError(null);
    if (next) setNotice(null);
  }, []);
  const slotTaken = useCallback(
    () => setNotice("Sorry, that time was just taken by someone else. Please pick another."),
    [],
  );

  async function act(run: () => Promise<Appointment>) {
    setBusy(true);
    setError(null);
    try {
      onChanged(await run());
      setPanel("none");
      setSlot(null);
    } catch (err) {
      if (err instanceof ApiError && err.code === "slot_unavailable") {
        setSlot(null);
        setNotice("Sorry, that time was just taken by someone else. Please pick another.");
        setReloadSignal((n) => n + 1);
      } else {
        setError(messageOf(err));
      }
    } finally {
      setBusy(false);
    }
  }

  const cancel = () =>
    act(() =>
      apiJson<Appointment>(`/appointments/${booking.id}/cancel?timezone=${encodeURIComponent(zone)}`, {
        method: "PUT",
        json: { reason },
      }),
    );
  const reschedule = () =>
    slot &&
    act(() =>
      apiJson<Appointment>(`/appointments/${booking.id}/reschedule`, {
        json: { start: slot.start, timezone: zone },
      }),
    );
  const download = async () => {
    setError(null);
    try {
      await downloadInvite(booking.id);
    } catch (err) {
      setError(messageOf(err));
    }
  };

  const preview = refundPreview(current ?? booking, zone);
  return (
    <div className="actions">
      <h3 id={headingId} className="visually-hidden">
        Actions for this booking
      </h3>
      <div className="row" role="group" aria-labelledby={headingId}>
        {booking.status === "confirmed" && (
          <button type="button" className="secondary" onClick={download}>
            Download calendar invite (.ics)
          </button>
        )}
        {canReschedule(booking) && service && (
          <button
            type="button"
            className="secondary"
            aria-expanded={panel === "reschedule"}
            onClick={() => setPanel(panel === "reschedule" ? "none" : "reschedule")}
          >
            Reschedule
          </button>
        )}
        {canCancel(booking) && (
          <button
            type="button"
            className="secondary"
            aria-expanded={panel === "cancel"}
            onClick={() => {
              if (panel === "cancel") return setPanel("none");
              setPanel("cancel");
              apiJson<Appointment>(`/appointments/${booking.id}?timezone=${encodeURIComponent(zone)}`)
                .then(setCurrent)
                .catch(() => setCurrent(null)); // the policy's 24 hours stand in
            }}
          >
            Cancel booking
          </button>
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {panel === "cancel" && (
        <section className="panel" aria-label="Cancel this booking">
          <p className={preview.refunded ? "notice" : "error"} data-testid="refund-preview">
            {preview.sentence}
          </p>
          <ReasonField
            id={`reason-${booking.id}`}
            label="Reason (optional)"
            value={reason}
            onValue={setReason}
          />
          <div className="row">
            <button type="button" className="danger" disabled={busy} onClick={cancel}>
              {busy ? "Cancelling…" : "Yes, cancel it"}
            </button>
            <button type="button" className="secondary" onClick={() => setPanel("none")}>
              Keep it
            </button>
          </div>
        </section>
      )}
      {panel === "reschedule" && service && (
        <section className="panel" aria-label="Move this booking">
          <p className="muted">Now: {whenLabel(booking.start, zone)}. Pick a new free time:</p>
          <SlotPicker
            providerId={booking.provider_id}
            serviceId={booking.service_id}
            horizonDays={service.horizon_days}
            zone={zone}
            onZoneChange={onZoneChange}
            selected={slot}
            onSelect={chooseSlot}
            onSelectedTaken={slotTaken}
            reloadSignal={reloadSignal}
            showZone={!zoneShown}
          />
          {notice && (
            <p className="error" role="alert">
              {notice}
            </p>
          )}
          {slot && (
            <div className="row">
              <button type="button" disabled={busy} onClick={reschedule}>
                {busy
                  ? "Moving…"
                  : `Move to ${whenLabel(slot.start, zone)} – ${timeLabel(slot.end, zone)}`}
              </button>
            </div>
          )}
        </section>
      )}
    </div>
  );
}
