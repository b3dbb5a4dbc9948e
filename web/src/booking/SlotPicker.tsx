// A month of free days (react-day-picker) and the chosen day's free times in the reader's zone.
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { DayPicker } from "react-day-picker";
import "react-day-picker/style.css";

import {
  addDays,
  dateToken,
  isoDateIn,
  isoDayLabel,
  monthStart,
  timeLabel,
  tokenToIso,
} from "../shared/time";
import type { Slot } from "../shared/types";
import { TimeZoneSelect } from "./TimeZoneSelect";
import { useAvailability } from "./useAvailability";

export interface SlotPickerProps {
  providerId: string;
  serviceId: string;
  horizonDays: number;
  zone: string;
  onZoneChange(zone: string): void;
  selected: Slot | null;
  onSelect(slot: Slot | null): void;
  /** Called once when the selected slot is no longer free (someone else took it). */
  onSelectedTaken(): void;
  /** Bumped by the parent to read the month again (after a lost race). */
  reloadSignal?: number;
  initialDay?: string | null;
  /** False where the page has its own zone select. */
  showZone?: boolean;
}

const DAY_NAME = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  year: "numeric",
  month: "long",
  day: "numeric",
});

function sameInstant(a: Slot, b: Slot): boolean {
  return Date.parse(a.start) === Date.parse(b.start);
}

export function SlotPicker(props: SlotPickerProps) {
  const { providerId, serviceId, zone, selected, onSelect, onSelectedTaken } = props;
  const [day, setDay] = useState<string | null>(props.initialDay ?? null);
  const [month, setMonth] = useState<Date>(() =>
    monthStart(dateToken(props.initialDay ?? isoDateIn(new Date(), zone))),
  );
  const headingId = useId();
  const availability = useAvailability(providerId, serviceId, zone, month);
  const { days, loading, error, live, reload } = availability;

  const { reloadSignal } = props;
  const seenSignal = useRef(reloadSignal);
  useEffect(() => {
    if (reloadSignal === seenSignal.current) return;
    seenSignal.current = reloadSignal;
    void reload();
  }, [reloadSignal, reload]);

  const freeDays = useMemo(
    () => Object.keys(days).filter((d) => (days[d]?.length ?? 0) > 0).sort(),
    [days],
  );
  const free = useMemo(() => new Set(freeDays), [freeDays]);

  // The selected time, gone from a fresh read of its day: someone else has it now.
  const selectedDay = selected ? isoDateIn(new Date(selected.start), zone) : null;
  const judged =
    selected !== null &&
    selectedDay !== null &&
    !loading &&
    error === null &&
    isShownMonth(selectedDay, month);
  const selectedGone =
    judged && !(days[selectedDay]?.some((slot) => sameInstant(slot, selected)) ?? false);
  useEffect(() => {
    if (selectedGone) {
      onSelect(null);
      onSelectedTaken();
    }
  }, [selectedGone, onSelect, onSelectedTaken]);

  const today = isoDateIn(new Date(), zone);
  const lastDay = addDays(today, props.horizonDays);
  const daySlots = day ? (days[day] ?? []) : [];

  return (
    <div className="slot-picker">
      {props.showZone !== false && <TimeZoneSelect value={zone} onChange={props.onZoneChange} />}
      <p className="muted live-status" aria-live="polite">
        {live === "live"
          ? "Free times update live."
          : live === "off"
            ? "Free times are as of when the page was loaded."
            : ""}
      </p>
      <div className="picker-grid">
        <div className="calendar">
          <DayPicker
            mode="single"
            selected={day ? dateToken(day) : undefined}
            onSelect={(date) => {
              setDay(date ? tokenToIso(date) : null);
              onSelect(null);
            }}
            month={month}
            onMonthChange={(next) => setMonth(monthStart(next))}
            startMonth={monthStart(dateToken(today))}
            endMonth={monthStart(dateToken(lastDay))}
            disabled={(date) => !free.has(tokenToIso(date))}
            modifiers={{ free: (date) => free.has(tokenToIso(date)) }}
            modifiersClassNames={{ free: "day-free" }}
            labels={{
              // The visible day number as a word of the name (axe: label-content-name-mismatch).
              labelDayButton: (date, modifiers) =>
                `${DAY_NAME.format(date)}${modifiers.free ? ", free times" : ""}${
                  modifiers.selected ? ", selected" : ""
                }`,
            }}
            footer={
              loading
                ? "Loading free days…"
                : error
                  ? error
                  : freeDays.length === 0
                    ? "No free days this month."
                    : `${freeDays.length} free ${freeDays.length === 1 ? "day" : "days"} this month.`
            }
          />
        </div>
        <section className="slots" aria-labelledby={headingId}>
          <h2 id={headingId}>{day ? isoDayLabel(day) : "Choose a day"}</h2>
          {day && !loading && daySlots.length === 0 && (
            <p className="muted">No free times left on this day.</p>
          )}
          {daySlots.length > 0 && (
            <ul className="slot-list" aria-label="Free times">
              {daySlots.map((slot) => {
                const chosen = selected !== null && sameInstant(slot, selected);
                return (
                  <li key={slot.start}>
                    <button
                      type="button"
                      className={chosen ? "slot chosen" : "slot secondary"}
                      aria-pressed={chosen}
                      data-start={slot.start}
                      onClick={() => onSelect(chosen ? null : slot)}
                    >
                      {timeLabel(slot.start, zone)}
                    </button>
                  </li>
                );
              })}
            </ul>
          )}
        </section>
      </div>
    </div>
  );
}

function isShownMonth(iso: string, month: Date): boolean {
  return iso.slice(0, 7) === tokenToIso(month).slice(0, 7);
}
