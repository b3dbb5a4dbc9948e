import { useEffect, useState } from "react";

import { apiJson } from "../shared/api";
import type { Provider } from "../shared/types";

const cache = new Map<string, Promise<Provider | null>>();

function providerOf(id: string): Promise<Provider | null> {
  let found = cache.get(id);
  if (!found) {
    found = apiJson<Provider>(`/providers/${id}`).catch(() => null);
    cache.set(id, found);
  }
  return found;
}

/** The public profiles of these providers, read once per page load. */
export function useProviders(ids: readonly string[]): Record<string, Provider> {
  const [providers, setProviders] = useState<Record<string, Provider>>({});
  const wanted = [...new Set(ids)].sort().join(",");
  useEffect(() => {
    let current = true;
    const list = wanted ? wanted.split(",") : [];
    void Promise.all(list.map(providerOf)).then((found) => {
      if (!current) return;
      const byId: Record<string, Provider> = {};
      for (const provider of found) if (provider) byId[provider.id] = provider;
      setProviders(byId);
    });
    return () => {
      current = false;
    };
  }, [wanted]);
  return providers;
}
