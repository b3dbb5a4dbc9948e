// Holidays: dates closed whatever the hours say.
import { type FormEvent, useState } from "react";

import { Field } from "../shared/form";
import { addHoliday, holidays, removeHoliday } from "./api";
import { DateField } from "./DateField";
import { DayList, useDayChanges } from "./DayList";
import { addDays, dayHeading, todayIn } from "./format";
import { useLoad, useSession } from "./session";
import { BusyButton, ErrorText, Notice } from "./ui";

export function Holidays() {
  const { provider } = useSession();
  const today = todayIn(provider.timezone);
  const list = useLoad(holidays, "holidays");
  const [day, setDay] = useState<string | null>(null);
  const [name, setName] = useState("");
  const { busy, error, setError, notice, run } = useDayChanges(list.reload);

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

  return (
    <section className="card" aria-labelledby="holidays-title">
      <h2 id="holidays-title">Holidays</h2>
      <DayList
        list={list}
        entries={list.data?.filter((holiday) => holiday.day >= today) ?? null}
        what="holidays"
        empty="No upcoming holidays."
        describe={(holiday) => holiday.name}
        removeLabel={(heading) => `Remove the holiday on ${heading}`}
        busy={busy}
        onRemove={(removed) =>
          run(removed, () => removeHoliday(removed), `${dayHeading(removed)} is open again.`)
        }
      />
      <form onSubmit={add} aria-labelledby="holiday-add-title">
        <h3 id="holiday-add-title">Add a holiday</h3>
        <DateField
          label="Holiday date"
          value={day}
          onChange={setDay}
          first={today}
          last={addDays(today, 730)}
        />
        <Field
          id="holiday-name"
          label="Name"
          required
          maxLength={200}
          value={name}
          onValue={setName}
        />
        <ErrorText>{error}</ErrorText>
        <Notice>{notice}</Notice>
        <BusyButton busy={busy === "add"} type="submit">
          Add holiday
        </BusyButton>
      </form>
    </section>
  );
}
