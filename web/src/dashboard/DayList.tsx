// What the holidays and the date overrides share: a list of dates, each with a Remove button,
// and the changes to it, each busy while it runs and said when done.
import { type ReactNode, useState } from "react";

import { dayHeading } from "./format";
import { type Loaded, useSession } from "./session";
import { BusyButton, ErrorText, Loading } from "./ui";

/**
 * Changes to a list of dates: `run(what, request, done)` marks `what` busy, says `done` and
 * reloads the list when the request succeeds, or keeps its sentence in `error`.
 */
export function useDayChanges(reload: () => void) {
  const { explain } = useSession();
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
      reload();
      return true;
    } catch (err) {
      setError(explain(err));
      return false;
    } finally {
      setBusy(null);
    }
  }

  return { busy, error, setError, notice, run };
}

interface DayListProps<T extends { day: string }> {
  list: Loaded<unknown>;
  /** The dates to show, once loaded. */
  entries: T[] | null;
  /** The list's name while it loads ("holidays"). */
  what: string;
  empty: string;
  /** What the date is, after its heading. */
  describe: (entry: T) => ReactNode;
  removeLabel: (heading: string) => string;
  /** The date being removed, if any. */
  busy: string | null;
  onRemove: (day: string) => void;
}

export function DayList<T extends { day: string }>({
  list,
  entries,
  what,
  empty,
  describe,
  removeLabel,
  busy,
  onRemove,
}: DayListProps<T>) {
  return (
    <>
      {list.loading && !list.data ? <Loading what={what} /> : null}
      <ErrorText>{list.error}</ErrorText>
      {entries && entries.length === 0 ? <p>{empty}</p> : null}
      {entries && entries.length > 0 ? (
        <ul className="dash-plain">
          {entries.map((entry) => (
            <li key={entry.day} className="dash-entry">
              <span>
                <strong>{dayHeading(entry.day)}</strong>: {describe(entry)}
              </span>
              <BusyButton
                busy={busy === entry.day}
                className="secondary"
                aria-label={removeLabel(dayHeading(entry.day))}
                onClick={() => onRemove(entry.day)}
              >
                Remove
              </BusyButton>
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}
