// Move a confirmed booking to another free time of its service, from the availability API.
import { useEffect, useState } from "react";

import type { Slot } from "../shared/types";
import { type Appointment, type Service, freeSlots, reschedule } from "./api";
import { DateField } from "./DateField";
import { addDays, clock, dayHeading, localDay, todayIn } from "./format";
import { useSession } from "./session";
import { BusyButton, ErrorText, Loading } from "./ui";

interface Props {
  booking: Appointment;
  service: Service | undefined;
  onMoved: (message: string) => void;
  onClose: () => void;
}

export function Reschedule({ booking, service, onMoved, onClose }: Props) {
  const { provider, explain } = useSession();
  const zone = provider.timezone;
  const today = todayIn(zone);
  const [day, setDay] = useState<string | null>(localDay(booking.start));
  const [slots, setSlots] = useState<Slot[] | null>(null);
  const [chosen, setChosen] = useState<Slot | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [round, setRound] = useState(0);
  const [slotsError, setSlotsError] = useState<string | null>(null);

  useEffect(() => {
    if (!day) return;
    let current = true;
    setSlots(null);
    setChosen(null);
    setSlotsError(null);
    freeSlots(provider.id, booking.service_id, day, zone)
      .then((found) => current && setSlots(found.slots))
      .catch((err: unknown) => current && setSlotsError(explain(err)));
    return () => {
      current = false;
    };
  }, [day, round, provider.id, booking.service_id, zone, explain]);

  async function move() {
    if (!chosen) return;
    setBusy(true);
    setError(null);
    try {
      const after = await reschedule(booking.id, chosen.start, zone);
      const moved = after.start === chosen.start || after.reschedules > booking.reschedules;
      onMoved(
        moved
          ? `Moved: the booking is now on ${dayHeading(localDay(chosen.start))} at ${clock(chosen.start, zone)}.`
          : "The move is being carried out; the list will show it shortly.",
      );
    } catch (err) {
      setError(explain(err));
      // The free times may have changed meanwhile: read them again.
      setRound((r) => r + 1);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="dash-reschedule">
      <h4>Move to another time</h4>
      <DateField
        label="New date"
        value={day}
        onChange={(picked) => {
          setError(null);
          setDay(picked);
        }}
        first={today}
        last={addDays(today, service?.horizon_days ?? 90)}
      />
      {day ? (
        slots === null ? (
          slotsError ? (
            <ErrorText>{slotsError}</ErrorText>
          ) : (
            <Loading what="free times" />
          )
        ) : slots.length === 0 ? (
          <p className="muted">No free time on {dayHeading(day)}. Choose another date.</p>
        ) : (
          <fieldset className="dash-slots">
            <legend>Free times on {dayHeading(day)}</legend>
            {slots.map((slot) => (
              <button
                key={slot.start}
                type="button"
                className={chosen?.start === slot.start ? "" : "secondary"}
                aria-pressed={chosen?.start === slot.start}
                onClick={() => setChosen(slot)}
              >
                {clock(slot.start, zone)}
              </button>
            ))}
          </fieldset>
        )
      ) : null}
      <ErrorText>{error}</ErrorText>
      <div className="row">
        <BusyButton busy={busy} disabled={!chosen} onClick={move}>
          {chosen ? `Move to ${clock(chosen.start, zone)}` : "Move"}
        </BusyButton>
        <button type="button" className="secondary" onClick={onClose}>
          Keep the time
        </button>
      </div>
    </div>
  );
}
