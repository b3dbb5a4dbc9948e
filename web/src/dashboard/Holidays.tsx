// Holidays: dates closed whatever the hours say.
import { type FormEvent, useState } from "react";

import { addHoliday, holidays, removeHoliday } from "./api";
import { DateField } from "./DateField";
import { addDays, dayHeading, todayIn } from "./format";
import { useLoad, useSession } from "./session";
import { BusyButton, ErrorText, Loading, Notice } from "./ui";

export function Holidays() {
  const { provider, explain } = useSession();
  const today = todayIn(provider.timezone);
  const list = useLoad(holidays, "holidays");
  const [day, setDay] = useState<string | null>(null);
  const [name, setName] = useState("");
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
      return true;
    } catch (err) {
      setError(explain(err));
      return false;
    } finally {
      setBusy(null);
    }
  }

  async function add(event: FormEvent) {
    event.preventDefault();
    if (!day) {
      setError("Choose the date of the holiday.");
      return;
    }
    const added = await run(
      "add",
      () => addHoliday(day, name.trim()),
      `${dayHeading(day)} is a holiday: no bookings that day.`,
    );
    if (added) {
      setDay(null);
      setName("");
    }
  }

  const upcoming = list.data?.filter((holiday) => holiday.day >= today) ?? [];
  return (
    <section className="card" aria-labelledby="holidays-title">
      <h2 id="holidays-title">Holidays</h2>
      {list.loading && !list.data ? <Loading what="holidays" /> : null}
      <ErrorText>{list.error}</ErrorText>
      {list.data && upcoming.length === 0 ? <p>No upcoming holidays.</p> : null}
      {upcoming.length > 0 ? (
        <ul className="dash-plain">
          {upcoming.map((holiday) => (
            <li key={holiday.day} className="dash-entry">
              <span>
                <strong>{dayHeading(holiday.day)}</strong>: {holiday.name}
              </span>
              <BusyButton
                busy={busy === holiday.day}
                className="secondary"
                aria-label={`Remove the holiday on ${dayHeading(holiday.day)}`}
                onClick={() =>
                  run(
                    holiday.day,
                    () => removeHoliday(holiday.day),
                    `${dayHeading(holiday.day)} is open again.`,
                  )
                }
              >
                Remove
              </BusyButton>
            </li>
          ))}
        </ul>
      ) : null}
      <form onSubmit={add} aria-labelledby="holiday-add-title">
        <h3 id="holiday-add-title">Add a holiday</h3>
        <DateField
          label="Holiday date"
          value={day}
          onChange={setDay}
          first={today}
          last={addDays(today, 730)}
        />
        <div className="field">
          <label htmlFor="holiday-name">Name</label>
          <input
            id="holiday-name"
            required
            maxLength={200}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <ErrorText>{error}</ErrorText>
        <Notice>{notice}</Notice>
        <BusyButton busy={busy === "add"} type="submit">
          Add holiday
        </BusyButton>
      </form>
    </section>
  );
}
