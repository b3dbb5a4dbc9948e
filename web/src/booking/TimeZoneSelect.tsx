import { useId, useMemo } from "react";

import { supportedTimeZones } from "../shared/time";

/** Every IANA zone the browser knows (Intl.supportedValuesOf), the detected one preselected. */
export function TimeZoneSelect({
  value,
  onChange,
  id,
}: {
  value: string;
  onChange(zone: string): void;
  id?: string;
}) {
  const generated = useId();
  const selectId = id ?? generated;
  const zones = useMemo(() => supportedTimeZones([value]), [value]);
  return (
    <div className="field tz-field">
      <label htmlFor={selectId}>Time zone</label>
      <select id={selectId} value={value} onChange={(e) => onChange(e.target.value)}>
        {zones.map((zone) => (
          <option key={zone} value={zone}>
            {zone.replaceAll("_", " ")}
          </option>
        ))}
      </select>
    </div>
  );
}
