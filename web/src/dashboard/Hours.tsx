// Working hours per weekday (with breaks), date overrides and holidays, in the provider's zone.
import { type FormEvent, useEffect, useState } from "react";

import { WEEKDAYS, type WeeklyHours, saveWorkingHours, workingHours } from "./api";
import { Holidays } from "./Holidays";
import { Intervals, problemOf } from "./Intervals";
import { Overrides } from "./Overrides";
import { useLoad, useSession } from "./session";
import { BusyButton, ErrorText, Loading, Notice } from "./ui";

const capitalised = (day: string) => day.charAt(0).toUpperCase() + day.slice(1);

function WeekForm() {
  const { explain } = useSession();
  const loaded = useLoad(workingHours, "week");
  const [week, setWeek] = useState<WeeklyHours | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (loaded.data) setWeek(loaded.data);
  }, [loaded.data]);

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!week) return;
    setNotice(null);
    const problem = WEEKDAYS.map((day) => problemOf(week[day], capitalised(day))).find(Boolean);
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setWeek(await saveWorkingHours(week));
      setNotice("Working hours saved. Free times follow them from now on.");
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  }

  if (!week) return loaded.error ? <ErrorText>{loaded.error}</ErrorText> : <Loading what="hours" />;
  return (
    <form className="card" onSubmit={save} aria-labelledby="week-title">
      <h2 id="week-title">Weekly hours</h2>
      <p className="muted">
        Add two intervals to a day for a break. A day without hours is closed. To work until
        midnight, end at 12:00 AM (00:00).
      </p>
      {WEEKDAYS.map((day) => (
        <fieldset key={day} className="dash-weekday">
          <legend>{capitalised(day)}</legend>
          <Intervals
            day={capitalised(day)}
            intervals={week[day]}
            onChange={(intervals) => {
              setNotice(null);
              setWeek({ ...week, [day]: intervals });
            }}
          />
        </fieldset>
      ))}
      <ErrorText>{error}</ErrorText>
      <Notice>{notice}</Notice>
      <BusyButton busy={busy} type="submit">
        Save weekly hours
      </BusyButton>
    </form>
  );
}

export function Hours() {
  const { provider } = useSession();
  return (
    <section aria-labelledby="hours-title">
      <h1 id="hours-title">Working hours</h1>
      <p className="muted">
        All hours are local times in your time zone, <strong>{provider.timezone}</strong>.
      </p>
      <WeekForm />
      <Overrides />
      <Holidays />
    </section>
  );
}
