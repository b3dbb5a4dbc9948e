// Editable local working intervals of one day ("09:00"-"12:00"); two or more make breaks.
import type { Interval } from "./api";

// An <input type="time"> cannot hold 24:00: an end of 00:00 is midnight ending the day.
const shownEnd = (end: string) => (end === "24:00" ? "00:00" : end);
const storedEnd = (end: string) => (end === "00:00" ? "24:00" : end);

function minutes(clock: string): number {
  const [hours, mins] = clock.split(":").map(Number);
  return (hours ?? 0) * 60 + (mins ?? 0);
}

function clockOf(total: number): string {
  if (total >= 1440) return "24:00";
  return `${String(Math.floor(total / 60)).padStart(2, "0")}:${String(total % 60).padStart(2, "0")}`;
}

/** What is wrong with one day's intervals, as a sentence; null when they are fine. */
export function problemOf(intervals: Interval[], day: string): string | null {
  const sorted = [...intervals].sort((a, b) => minutes(a.start) - minutes(b.start));
  for (const [index, interval] of sorted.entries()) {
    if (!interval.start || !interval.end) return `${day}: every interval needs a start and an end.`;
    if (minutes(interval.end) <= minutes(interval.start)) {
      return `${day}: ${interval.start}–${interval.end} must start before it ends.`;
    }
    const next = sorted[index + 1];
    if (next && minutes(next.start) < minutes(interval.end)) {
      return `${day}: ${interval.start}–${interval.end} overlaps ${next.start}–${next.end}.`;
    }
  }
  return null;
}

/** The next interval to offer: an hour after the last one ends, or a working day. */
function nextInterval(intervals: Interval[]): Interval {
  const last = intervals[intervals.length - 1];
  if (!last) return { start: "09:00", end: "17:00" };
  const start = Math.min(minutes(last.end) + 60, 1380);
  return { start: clockOf(start), end: clockOf(Math.min(start + 240, 1440)) };
}

interface Props {
  day: string;
  intervals: Interval[];
  onChange: (intervals: Interval[]) => void;
}

export function Intervals({ day, intervals, onChange }: Props) {
  const change = (index: number, part: Partial<Interval>) =>
    onChange(intervals.map((interval, i) => (i === index ? { ...interval, ...part } : interval)));
  return (
    <div className="dash-intervals">
      {intervals.length === 0 ? <p className="muted dash-closed">Closed</p> : null}
      {intervals.map((interval, index) => (
        <div className="dash-interval" key={index}>
          <input
            type="time"
            aria-label={`${day}, hours ${index + 1}, from`}
            value={interval.start}
            required
            onChange={(e) => change(index, { start: e.target.value })}
          />
          <span aria-hidden="true">–</span>
          <input
            type="time"
            aria-label={`${day}, hours ${index + 1}, until`}
            value={shownEnd(interval.end)}
            required
            onChange={(e) => change(index, { end: storedEnd(e.target.value) })}
          />
          <button
            type="button"
            className="secondary"
            aria-label={`Remove ${day} hours ${interval.start}–${interval.end}`}
            onClick={() => onChange(intervals.filter((_, i) => i !== index))}
          >
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        className="secondary"
        aria-label={`Add hours on ${day}`}
        onClick={() => onChange([...intervals, nextInterval(intervals)])}
      >
        Add hours
      </button>
    </div>
  );
}
