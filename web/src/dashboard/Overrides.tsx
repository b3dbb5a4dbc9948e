// Dates with other hours than their weekday's: a short day, a long one, or closed.
import { type FormEvent, useState } from "react";

import { type Interval, clearOverride, overrides, saveOverride } from "./api";
import { DateField } from "./DateField";
import { DayList, useDayChanges } from "./DayList";
import { addDays, dayHeading, todayIn } from "./format";
import { Intervals, problemOf } from "./Intervals";
import { useLoad, useSession } from "./session";
import { BusyButton, Checkbox, ErrorText, Notice } from "./ui";

// The API answers at most a year of overrides at a time.
const SHOWN_DAYS = 365;

export function Overrides() {
  const { provider } = useSession();
  const today = todayIn(provider.timezone);
  const last = addDays(today, SHOWN_DAYS);
  const list = useLoad(() => overrides(today, last), `overrides-${today}`);
  const [day, setDay] = useState<string | null>(null);
  const [closed, setClosed] = useState(false);
  const [intervals, setIntervals] = useState<Interval[]>([{ start: "09:00", end: "12:00" }]);
  const { busy, error, setError, notice, run } = useDayChanges(list.reload);

  function save(event: FormEvent) {
    event.preventDefault();
    if (!day) {
      setError("Choose the date to give other hours.");
      return;
    }
    const hours = closed ? [] : intervals;
    const problem = problemOf(hours, dayHeading(day));
    if (problem) {
      setError(problem);
      return;
    }
    if (!closed && hours.length === 0) {
      setError("Add hours for that date, or mark it closed all day.");
      return;
    }
    void run(
      "save",
      () => saveOverride(day, hours),
      `${dayHeading(day)} ${closed ? "is closed" : "has its own hours"}.`,
    );
  }

  return (
    <section className="card" aria-labelledby="overrides-title">
      <h2 id="overrides-title">Date overrides</h2>
      <p className="muted">Other hours for one date, instead of its weekday's.</p>
      <DayList
        list={list}
        entries={list.data}
        what="overrides"
        empty="No dates with other hours."
        describe={(override) =>
          override.closed
            ? "closed"
            : override.intervals.map((i) => `${i.start}–${i.end}`).join(", ")
        }
        removeLabel={(heading) => `Remove the override of ${heading}`}
        busy={busy}
        onRemove={(removed) =>
          run(
            removed,
            () => clearOverride(removed),
            `${dayHeading(removed)} has its weekday's hours again.`,
          )
        }
      />
      <form onSubmit={save} aria-labelledby="override-add-title">
        <h3 id="override-add-title">Give a date other hours</h3>
        <DateField label="Date to override" value={day} onChange={setDay} first={today} last={last} />
        <Checkbox
          id="override-closed"
          label="Closed all day"
          checked={closed}
          onChecked={setClosed}
        />
        {closed ? null : (
          <Intervals day="Override" intervals={intervals} onChange={setIntervals} />
        )}
        <ErrorText>{error}</ErrorText>
        <Notice>{notice}</Notice>
        <BusyButton busy={busy === "save"} type="submit">
          Save override
        </BusyButton>
      </form>
    </section>
  );
}
