// / — find a provider by service, then book with them.
import { useEffect, useState } from "react";
import type { FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";

import { apiJson, messageOf, query } from "../shared/api";
import { moneyLabel, whenLabel } from "../shared/time";
import type { Page, ProviderMatch } from "../shared/types";
import { useReaderZone } from "./zone";

export function FindProvider() {
  const [params, setParams] = useSearchParams();
  const [zone] = useReaderZone();
  const wanted = params.get("service") ?? "";
  const [text, setText] = useState(wanted);
  const [found, setFound] = useState<Page<ProviderMatch> | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    setFound(null);
    apiJson<Page<ProviderMatch>>(
      `/providers?${query({ service: wanted || undefined, tz: zone, limit: 50 })}`,
    )
      .then((page) => current && (setFound(page), setError(null)))
      .catch((err: unknown) => current && setError(messageOf(err)));
    return () => {
      current = false;
    };
  }, [wanted, zone]);

  function search(event: FormEvent) {
    event.preventDefault();
    setParams(text.trim() ? { service: text.trim() } : {});
  }

  return (
    <>
      <h1>Book an appointment</h1>
      <form className="card row search" role="search" onSubmit={search}>
        <label htmlFor="search-service" className="visually-hidden">
          Service
        </label>
        <input
          id="search-service"
          type="search"
          placeholder="Search a service, e.g. massage"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit">Search</button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {found === null && !error && <p aria-busy="true">Loading…</p>}
      {found?.data.length === 0 && <p>No provider offers that yet.</p>}
      <ul className="provider-list">
        {found?.data.map((provider) => (
          <li key={provider.id} className="card">
            <h2>{provider.display_name}</h2>
            <ul className="service-list">
              {provider.services.map((service) => (
                <li key={service.id}>
                  <Link to={`/book/${provider.id}?service=${service.id}`}>
                    {service.name}
                  </Link>{" "}
                  <span className="muted">
                    · {service.duration_minutes} min · {moneyLabel(service.price)}
                    {service.first_free
                      ? ` · next free ${whenLabel(service.first_free, zone)}`
                      : ""}
                  </span>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </>
  );
}
