// The signed-in provider, shared by every view, and a loader that signs out on a 401.
import { createContext, useCallback, useContext, useEffect, useRef, useState } from "react";

import type { Provider } from "./api";
import { say, signedOut } from "./sentences";

export interface Session {
  provider: Provider;
  /** Replace the profile after a change that answered it (services, zone, approval). */
  setProvider: (provider: Provider) => void;
  /** The sentence for a failed request; a 401 also ends the session. */
  explain: (err: unknown) => string;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in dashboard");
  return session;
}

export function explainer(signOut: (why: string) => void): (err: unknown) => string {
  return (err: unknown) => {
    const sentence = say(err);
    if (signedOut(err)) signOut(sentence);
    return sentence;
  };
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` now and on reload(); the last answer wins, an error is kept as a sentence. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const { explain } = useSession();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const mine = ++latest.current;
    setLoading(true);
    loadRef
      .current()
      .then((value) => {
        if (mine !== latest.current) return;
        setData(value);
        setError(null);
      })
      .catch((err: unknown) => {
        if (mine === latest.current) setError(explain(err));
      })
      .finally(() => {
        if (mine === latest.current) setLoading(false);
      });
  }, [key, round, explain]);

  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, loading, reload };
}
