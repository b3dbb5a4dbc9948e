// The provider's profile (name, zone, approval) and services with their rules.
import { type FormEvent, useState } from "react";

import { Field } from "../shared/form";
import {
  type Service,
  type ServiceFields,
  createService,
  myProfile,
  retireService,
  updateProfile,
  updateService,
} from "./api";
import { duration, money } from "./format";
import { ServiceForm } from "./ServiceForm";
import { useSession } from "./session";
import { BusyButton, Checkbox, ErrorText, Notice } from "./ui";

const ZONES = Intl.supportedValuesOf("timeZone");

function Profile() {
  const { provider, setProvider, explain } = useSession();
  const [name, setName] = useState(provider.display_name);
  const [zone, setZone] = useState(provider.timezone);
  const [approval, setApproval] = useState(!provider.auto_confirm);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function save(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      setProvider(
        await updateProfile({ display_name: name.trim(), timezone: zone, auto_confirm: !approval }),
      );
      setNotice("Profile saved.");
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  }

  const zones = ZONES.includes(zone) ? ZONES : [zone, ...ZONES];
  return (
    <form className="card" onSubmit={save} aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <Field
        id="profile-name"
        label="Name shown to customers"
        required
        maxLength={200}
        value={name}
        onValue={setName}
      />
      <div className="field">
        <label htmlFor="profile-zone">Time zone of your hours</label>
        <select id="profile-zone" value={zone} onChange={(e) => setZone(e.target.value)}>
          {zones.map((z) => (
            <option key={z}>{z}</option>
          ))}
        </select>
      </div>
      <Checkbox
        id="profile-approval"
        label="New bookings wait for my approval"
        checked={approval}
        onChecked={setApproval}
      />
      <ErrorText>{error}</ErrorText>
      <Notice>{notice}</Notice>
      <BusyButton busy={busy} type="submit">
        Save profile
      </BusyButton>
    </form>
  );
}

function ServiceCard({ service, onChanged }: { service: Service; onChanged: (m: string) => void }) {
  const { explain } = useSession();
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function toggleActive() {
    setBusy(true);
    setError(null);
    try {
      if (service.active) await retireService(service.id);
      else await updateService(service.id, { active: true });
      onChanged(service.active ? `${service.name} is no longer offered.` : `${service.name} is offered again.`);
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  }

  async function save(fields: ServiceFields) {
    try {
      await updateService(service.id, fields);
    } catch (err) {
      throw new Error(explain(err));
    }
    setEditing(false);
    onChanged(`${fields.name} saved. Bookings already made keep their terms.`);
  }

  const rules = [
    duration(service.duration_minutes),
    money(service.price.amount, service.price.currency),
    service.buffer_before_minutes ? `${duration(service.buffer_before_minutes)} before` : null,
    service.buffer_after_minutes ? `${duration(service.buffer_after_minutes)} after` : null,
    service.min_notice_minutes
      ? `bookable ${duration(service.min_notice_minutes)} to ${service.horizon_days} days ahead`
      : `bookable up to ${service.horizon_days} days ahead`,
    service.max_per_day ? `at most ${service.max_per_day} a day` : null,
    service.reminders_minutes_before.length
      ? `reminders ${service.reminders_minutes_before.map(duration).join(", ")} before`
      : "no reminders",
  ].filter(Boolean);
  return (
    <article className="card" aria-labelledby={`service-${service.id}`}>
      <h3 id={`service-${service.id}`}>
        {service.name} {service.active ? null : <span className="muted">(not offered)</span>}
      </h3>
      <p className="muted">{rules.join(" · ")}</p>
      <ErrorText>{error}</ErrorText>
      {editing ? (
        <ServiceForm
          service={service}
          submitLabel="Save service"
          onSubmit={save}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <div className="row">
          <button type="button" className="secondary" onClick={() => setEditing(true)}>
            Edit {service.name}
          </button>
          <BusyButton busy={busy} className="secondary" onClick={toggleActive}>
            {service.active ? `Stop offering ${service.name}` : `Offer ${service.name} again`}
          </BusyButton>
        </div>
      )}
    </article>
  );
}

export function Services() {
  const { provider, setProvider, explain } = useSession();
  const [adding, setAdding] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function changed(message: string) {
    setNotice(message);
    try {
      setProvider(await myProfile());
    } catch (err) {
      setError(explain(err));
    }
  }

  async function create(fields: ServiceFields) {
    try {
      await createService(fields);
    } catch (err) {
      throw new Error(explain(err));
    }
    setAdding(false);
    await changed(`${fields.name} is offered now.`);
  }

  return (
    <section aria-labelledby="services-title">
      <h1 id="services-title">Services and settings</h1>
      <Profile />
      <h2>Services</h2>
      <p className="muted">
        Refunds are the same for every service: a customer who cancels at least 24 hours before the
        start is refunded in full, later not; a booking you decline or cancel is always refunded in
        full.
      </p>
      <Notice>{notice}</Notice>
      <ErrorText>{error}</ErrorText>
      {provider.services.map((service) => (
        <ServiceCard key={service.id} service={service} onChanged={changed} />
      ))}
      {adding ? (
        <section className="card" aria-labelledby="service-new">
          <h3 id="service-new">New service</h3>
          <ServiceForm
            service={null}
            submitLabel="Add service"
            onSubmit={create}
            onCancel={() => setAdding(false)}
          />
        </section>
      ) : (
        <button type="button" onClick={() => setAdding(true)}>
          Add a service
        </button>
      )}
    </section>
  );
}
