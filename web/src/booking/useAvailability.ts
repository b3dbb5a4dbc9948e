// Free slots of one service for the shown month, in the reader's zone, kept fresh by the
// provider's availability stream: `changed` refetches only the dates it names, `refresh` all.
import { useCallback, useEffect, useRef, useState } from "react";

import { apiJson, messageOf, query } from "../shared/api";
import { addDays, isoDateIn, monthEnd, monthStart, tokenToIso } from "../shared/time";
import type { Availability, Slot } from "../shared/types";

export type Live = "connecting" | "live" | "off";

export interface MonthAvailability {
  /** Slots by the reader's local date (YYYY-MM-DD), each day's in order. */
  days: Record<string, Slot[]>;
  loading: boolean;
  error: string | null;
  live: Live;
  /** Reads the whole month again (after a lost race, say). */
  reload(): Promise<void>;
}

interface Range {
  from: string;
  to: string;
}

function monthRange(month: Date, zone: string): Range | null {
  const today = isoDateIn(new Date(), zone);
  const first = tokenToIso(monthStart(month));
  const last = tokenToIso(monthEnd(month));
  const from = first < today ? today : first;
  return from <= last ? { from, to: last } : null;
}

function byDay(slots: Slot[]): Record<string, Slot[]> {
  const days: Record<string, Slot[]> = {};
  for (const slot of slots) {
    // The API writes each time in the zone asked for: its date is the reader's date.
    (days[slot.start.slice(0, 10)] ??= []).push(slot);
  }
  return days;
}

export function useAvailability(
  providerId: string | undefined,
  serviceId: string | undefined,
  zone: string,
  month: Date,
): MonthAvailability {
  const range = monthRange(month, zone);
  const key = `${providerId}|${serviceId}|${zone}|${range?.from}|${range?.to}`;
  // What was read belongs to one key: another month's, zone's or service's slots never show.
  const [data, setData] = useState<{ key: string; days: Record<string, Slot[]> }>({
    key: "",
    days: {},
  });
  const [error, setError] = useState<{ key: string; message: string } | null>(null);
  const [live, setLive] = useState<Live>("connecting");
  const current = useRef(key);
  current.current = key;
  // The latest whole-month read; an older one answering late is dropped.
  const wholeRead = useRef(0);
  const wholePending = useRef(false);

  const read = useCallback(
    async (part: Range | null, whole: boolean) => {
      const asked = key;
      if (!providerId || !serviceId || part === null) {
        setData({ key: asked, days: {} });
        return;
      }
      const seq = whole ? ++wholeRead.current : wholeRead.current;
      if (whole) wholePending.current = true;
      try {
        const answer = await apiJson<Availability>(
          `/providers/${providerId}/availability?${query({
            service_id: serviceId,
            from: part.from,
            to: part.to,
            tz: zone,
          })}`,
        );
        if (current.current !== asked || seq !== wholeRead.current) return;
        if (whole) wholePending.current = false;
        const fresh = byDay(answer.slots);
        setData((old) => {
          if (whole) return { key: asked, days: fresh };
          if (old.key !== asked) return old;
          const days = { ...old.days };
          for (const day of Object.keys(days)) {
            if (day >= part.from && day <= part.to) delete days[day];
          }
          return { key: asked, days: { ...days, ...fresh } };
        });
        setError(null);
      } catch (err) {
        if (current.current === asked && seq === wholeRead.current) {
          if (whole) wholePending.current = false;
          setError({ key: asked, message: messageOf(err) });
        }
      }
    },
    [providerId, serviceId, zone, key],
  );

  const from = range?.from;
  const to = range?.to;
  const reload = useCallback(
    () => read(from && to ? { from, to } : null, true),
    [read, from, to],
  );

  useEffect(() => {
    void reload();
  }, [reload]);

  const ready = data.key === key;
  const days = ready ? data.days : {};
  const shownError = error?.key === key ? error.message : null;

  // The stream's handlers always act on the month shown now.
  const onChanged = useRef<(dates: string[]) => void>(() => {});
  onChanged.current = (dates: string[]) => {
    if (!range || dates.length === 0) return;
    // A month read under way may have started before this change: read it all again.
    if (wholePending.current) {
      void reload();
      return;
    }
    const sorted = [...dates].sort();
    // A provider-local date covers at most the reader's day before, that day and the day after.
    const from = addDays(sorted[0]!, -1);
    const to = addDays(sorted[sorted.length - 1]!, 1);
    const part = { from: from > range.from ? from : range.from, to: to < range.to ? to : range.to };
    if (part.from <= part.to) void read(part, false);
  };
  const onRefresh = useRef<() => void>(() => {});
  onRefresh.current = () => void reload();

  useEffect(() => {
    if (!providerId || typeof EventSource === "undefined") {
      setLive("off");
      return;
    }
    setLive("connecting");
    const events = new EventSource(`/providers/${providerId}/availability/events`);
    let dropped = false;
    events.onopen = () => {
      setLive("live");
      // Changes made while the stream was down were not heard: read everything again.
      if (dropped) onRefresh.current();
      dropped = false;
    };
    events.onerror = () => {
      dropped = true;
      // No stream here (404, an older API): the page works without live updates.
      if (events.readyState === EventSource.CLOSED) setLive("off");
      else setLive("connecting");
    };
    events.addEventListener("changed", (event) => {
      try {
        const data = JSON.parse((event as MessageEvent<string>).data) as { dates?: unknown };
        const dates = Array.isArray(data.dates)
          ? data.dates.filter((d): d is string => typeof d === "string")
          : [];
        onChanged.current(dates);
      } catch {
        onRefresh.current();
      }
    });
    events.addEventListener("refresh", () => onRefresh.current());
    return () => events.close();
  }, [providerId]);

  return { days, loading: !ready && shownError === null, error: shownError, live, reload };
}
