import { useCallback, useState } from "react";

import { detectedTimeZone } from "../shared/time";

const ZONE_KEY = "booking.timezone";

/** The reader's zone: the one they chose last, else the browser's. */
export function useReaderZone(): [string, (zone: string) => void] {
  const [zone, setZone] = useState<string>(() => {
    try {
      return window.localStorage.getItem(ZONE_KEY) ?? detectedTimeZone();
    } catch {
      return detectedTimeZone();
    }
  });
  const choose = useCallback((next: string) => {
    setZone(next);
    try {
      window.localStorage.setItem(ZONE_KEY, next);
    } catch {
      // No storage: the choice lasts for this page.
    }
  }, []);
  return [zone, choose];
}
