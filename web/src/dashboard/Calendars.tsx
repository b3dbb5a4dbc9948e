// The provider's calendar connections: their status, last sync and errors; sync them now.
import { useState } from "react";

import { type Connection, connections, syncCalendars } from "./api";
import { instant } from "./format";
import { useLoad, useSession } from "./session";
import { BusyButton, ErrorText, Loading, Notice } from "./ui";

const KINDS: Record<string, string> = {
  google: "Google Calendar",
  microsoft: "Microsoft 365",
  caldav: "CalDAV",
};

function ConnectionCard({ connection, zone }: { connection: Connection; zone: string }) {
  const broken = connection.status !== "active";
  return (
    <article className="card" aria-labelledby={`connection-${connection.id}`}>
      <h2 id={`connection-${connection.id}`}>
        {KINDS[connection.kind] ?? connection.kind}: {connection.account}
      </h2>
      <p className={broken ? "dash-status dash-status-broken" : "dash-status dash-status-confirmed"}>
        {broken ? "Broken: connect it again to mend it" : "Active"}
      </p>
      {connection.broken_reason ? <p>Why: {connection.broken_reason}</p> : null}
      <dl className="dash-facts">
        <dt>Last read</dt>
        <dd>{instant(connection.last_synced_at, zone)}</dd>
        <dt>Calendars blocking your time</dt>
        <dd>{connection.blocking_calendars.length || "none"}</dd>
        <dt>New bookings written to</dt>
        <dd>{connection.destination_calendar ?? "no calendar"}</dd>
        {connection.server_url ? (
          <>
            <dt>Server</dt>
            <dd className="dash-wrap">{connection.server_url}</dd>
          </>
        ) : null}
      </dl>
      {connection.last_error && connection.last_error !== connection.broken_reason ? (
        <p className="error">Last error: {connection.last_error}</p>
      ) : null}
    </article>
  );
}

export function Calendars() {
  const { provider, explain } = useSession();
  const list = useLoad(connections, "connections");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function syncNow() {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const { connections: count } = await syncCalendars();
      setNotice(
        count === 0
          ? "No active connection to read."
          : `${count === 1 ? "Your calendar is" : `${count} calendars are`} being read now.`,
      );
      list.reload();
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="calendars-title">
      <h1 id="calendars-title">Calendars</h1>
      <p className="muted">
        Meetings in your connected calendars block booking times; confirmed bookings are written to
        them. Times in <strong>{provider.timezone}</strong>.
      </p>
      <ErrorText>{list.error ?? error}</ErrorText>
      <Notice>{notice}</Notice>
      {list.data === null ? (
        list.error ? null : <Loading what="calendar connections" />
      ) : list.data.length === 0 ? (
        <p className="card">No calendar is connected.</p>
      ) : (
        <>
          {list.data.map((connection) => (
            <ConnectionCard key={connection.id} connection={connection} zone={provider.timezone} />
          ))}
          <BusyButton busy={busy} onClick={syncNow}>
            Read my calendars now
          </BusyButton>
        </>
      )}
    </section>
  );
}
