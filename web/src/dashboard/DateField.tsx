// A calendar date chosen in react-day-picker, between two dates of the provider's calendar.
import { DayPicker } from "react-day-picker";

import { dateOf, dayHeading, dayOf } from "./format";

// The day's number as a word of its button's name (axe: label-content-name-mismatch).
const DAY_NAME = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  month: "long",
  day: "numeric",
  year: "numeric",
});

interface Props {
  label: string;
  value: string | null;
  onChange: (day: string | null) => void;
  first: string;
  last: string;
}

export function DateField({ label, value, onChange, first, last }: Props) {
  return (
    <div className="dash-calendar">
      <DayPicker
        mode="single"
        aria-label={label}
        selected={value ? dateOf(value) : undefined}
        onSelect={(date) => onChange(date ? dayOf(date) : null)}
        defaultMonth={dateOf(value ?? first)}
        startMonth={dateOf(first)}
        endMonth={dateOf(last)}
        disabled={[{ before: dateOf(first) }, { after: dateOf(last) }]}
        labels={{
          labelDayButton: (date, modifiers) =>
            `${DAY_NAME.format(date)}${modifiers.selected ? ", chosen" : ""}`,
        }}
        footer={value ? `Chosen: ${dayHeading(value)}` : "Choose a date."}
      />
    </div>
  );
}
