// Dates with other hours than their weekday's: a short day, a long one, or closed.
import { type FormEvent, useState } from "react";

import { type Interval, clearOverride, overrides, saveOverride } from "./api";
import { DateField } from "./DateField";
import { addDays, dayHeading, todayIn } from "./format";
import { Intervals, problemOf } from "./Intervals";
import { useLoad, useSession } from "./session";
import { BusyButton, ErrorText, Loading, Notice } from "./ui";

// The API answers at most a year of overrides at a time.
const SHOWN_DAYS = 365;

export function Overrides() {
  const { provider, explain } = useSession();
  const today = todayIn(provider.timezone);
  const last = addDays(today, SHOWN_DAYS);
  const list = useLoad(() => overrides(today, last), `overrides-${today}`);
  const [day, setDay] = useState<string | null>(null);
  const [closed, setClosed] = useState(false);
  const [intervals, setIntervals] = useState<Interval[]>([{ start: "09:00", end: "12:00" }]);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  async function run(what: string, request: () => Promise<unknown>, done: string) {
    setBusy(what);
    setError(null);
    setNotice(null);
    try {
      await request();
      setNotice(done);
      list.reload();
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(null);
    }
  }

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
      {list.loading && !list.data ? <Loading what="overrides" /> : null}
      <ErrorText>{list.error}</ErrorText>
      {list.data && list.data.length === 0 ? <p>No dates with other hours.</p> : null}
      {list.data && list.data.length > 0 ? (
        <ul className="dash-plain">
          {list.data.map((override) => (
            <li key={override.day} className="dash-entry">
              <span>
                <strong>{dayHeading(override.day)}</strong>:{" "}
                {override.closed
                  ? "closed"
                  : override.intervals.map((i) => `${i.start}–${i.end}`).join(", ")}
              </span>
              <BusyButton
                busy={busy === override.day}
                className="secondary"
                aria-label={`Remove the override of ${dayHeading(override.day)}`}
                onClick={() =>
                  run(
                    override.day,
                    () => clearOverride(override.day),
                    `${dayHeading(override.day)} has its weekday's hours again.`,
                  )
                }
              >
                Remove
              </BusyButton>
            </li>
          ))}
        </ul>
      ) : null}
      <form onSubmit={save} aria-labelledby="override-add-title">
        <h3 id="override-add-title">Give a date other hours</h3>
        <DateField label="Date to override" value={day} onChange={setDay} first={today} last={last} />
        <div className="field dash-check">
          <input
            id="override-closed"
            type="checkbox"
            checked={closed}
            onChange={(e) => setClosed(e.target.checked)}
          />
          <label htmlFor="override-closed">Closed all day</label>
        </div>
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
